import ArgumentParser
import Foundation
import LogSurge
import LogSurgeParse
import LogSurgeState
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeInput
import LogSurgeReport

struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state",
        abstract: "Describe a --state file: the inputs it has read, and the requests it holds.",
        discussion: """
            Prints one JSON object: {"inputs": [{"path", "bytes_consumed", "size", "device", "inode"}], \
            "requests", "first_minute", "last_minute", "minutes_from", "runs"}, where requests is the \
            sum of every bucket the state holds (each log line ever read, counted once). Minutes \
            older than 35 days before the last are folded into daily totals: minutes_from is the \
            first minute of the days held whole as minutes, and --buckets exports those minutes. \
            It reads the file as \
            the last run that finished left it, without waiting for a run in progress, and checks \
            all of it.

            Examples:
              logsurge state state.db
              logsurge state state.db --buckets all-minutes.csv
            """
    )

    @Option(
        help: ArgumentHelp(
            "Also write the buckets the state holds, as analyze --buckets writes them (JSON lines when FILE ends in .jsonl; - for standard output).",
            valueName: "FILE"))
    var buckets: String?

    @Argument(help: ArgumentHelp("The state file.", valueName: "FILE"))
    var file: String

    func run() throws {
        let (contents, stored): (RunState.Contents, MinuteBuckets)
        do { (contents, stored) = try RunState.inspect(file) } catch { throw UsageError(description: error.description) }
        let sink = try buckets.map { path throws -> OutputSink in
            do { return try OutputSink(path: path) } catch { throw UsageError(description: "cannot write \(path): \(error)") }
        }
        let inputs: [String] = contents.inputs.map { input in
            let fields: [String] = [
                "\"path\":" + Escaping.json(input.path), "\"bytes_consumed\":\(input.bytesConsumed)",
                "\"size\":\(input.size)", "\"device\":\(input.device)", "\"inode\":\(input.inode)",
            ]
            return "{" + fields.joined(separator: ",") + "}"
        }
        func minute(_ value: Int32?) -> String { value.map { "\"" + UTCMinute.format($0) + "\"" } ?? "null" }
        let fields: [String] = [
            "\"inputs\":[" + inputs.joined(separator: ",") + "]", "\"requests\":\(contents.requests)",
            "\"first_minute\":" + minute(contents.minutes?.lowerBound), "\"last_minute\":" + minute(contents.minutes?.upperBound),
            "\"minutes_from\":" + minute(contents.minutesFrom), "\"runs\":\(contents.runs)",
        ]
        let json = "{" + fields.joined(separator: ",") + "}\n"
        if let sink {
            try BucketFile.write(stored.sortedRows(), format: .init(path: sink.name), to: sink)
            try sink.close()
        }
        let out = buckets == "-" ? OutputSink.standardError() : OutputSink.standardOutput()
        try out.write(json)
        try out.close()
    }
}
