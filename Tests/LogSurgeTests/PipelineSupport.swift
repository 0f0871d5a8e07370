import Foundation
import LogSurge
import LogSurgeAggregate
import LogSurgeInput
import LogSurgeParse
import LogSurgePipelineTestSupport
import LogSurgeReport
import Testing

/// Helpers only the pipeline's tests use: checks every run must pass, its buckets as CSV.
extension Support {
    /// The contract's invariants: every line parsed or counted under one reason, every parsed
    /// line in exactly one bucket, and every line of the run in exactly one input.
    static func expectInvariants(_ analysis: Analysis, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let accounting = analysis.accounting
        #expect(accounting.lines == accounting.parsed + accounting.malformedTotal, comment, sourceLocation: sourceLocation)
        let requests = analysis.buckets.rows().reduce(UInt64(0)) { $0 + $1.counts.requests }
        #expect(requests == accounting.parsed, comment, sourceLocation: sourceLocation)
        #expect(analysis.inputs.reduce(UInt64(0)) { $0 + $1.lines } == accounting.lines, comment, sourceLocation: sourceLocation)
    }

    /// Expects an input error exactly for the inputs with lines of which none parsed (and no
    /// read error of their own), and no other.
    static func expectOnlyNothingParsedErrors(
        _ analysis: Analysis, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for input in analysis.inputs {
            // Blank lines only are nothing to read, not a format that failed.
            let nothingParsed = input.lines > 0 && input.parsed == 0 && input.malformed[MalformedReason.empty.index] < input.lines
            #expect(
                (input.error != nil) == nothingParsed, "\(input.name): \(input.error?.message ?? "no error")",
                sourceLocation: sourceLocation)
            if let error = input.error { #expect(error.message.hasPrefix("none of its"), comment, sourceLocation: sourceLocation) }
        }
    }

    static func bucketsCSV(_ analysis: Analysis) throws -> String {
        let directory = temporaryDirectory()
        let path = directory.appendingPathComponent("buckets.csv").path
        let sink = try OutputSink(path: path)
        try BucketFile.write(analysis.buckets.rows(), format: .csv, to: sink)
        try sink.close()
        return try String(contentsOfFile: path, encoding: .utf8)
    }
}
