import Foundation

/// A strict reader of the Prometheus text format 0.0.4, the oracle the tests read `--metrics` with:
/// any line it does not understand (an unescaped quote, an unknown escape) is an error.
package struct Exposition {
    package struct Sample {
        package var name: String
        package var labels: [String: String]
        package var value: Double
    }

    package struct Malformed: Error, CustomStringConvertible {
        package var description: String
    }

    package var samples: [Sample] = []
    package var types: [String: String] = [:]
    package var helps: [String: String] = [:]

    package init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Malformed(description: "no final line feed") }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let line = String(line)
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw Malformed(description: "bad comment: \(line)") }
                if line.hasPrefix("# HELP ") { helps[parts[0]] = parts[1] } else { types[parts[0]] = parts[1] }
                continue
            }
            samples.append(try Self.sample(Array(line.unicodeScalars), line: line))
        }
    }

    private static func sample(_ s: [Unicode.Scalar], line: String) throws -> Sample {
        var i = 0
        func fail(_ why: String) -> Malformed { Malformed(description: "\(why) in: \(line)") }
        func isNameScalar(_ c: Unicode.Scalar, first: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c == ":" || (!first && c >= "0" && c <= "9")
        }
        func name() throws -> String {
            let start = i
            while i < s.count, isNameScalar(s[i], first: i == start) { i += 1 }
            guard i > start else { throw fail("no name") }
            return String(String.UnicodeScalarView(s[start..<i]))
        }
        let metric = try name()
        var labels: [String: String] = [:]
        if i < s.count, s[i] == "{" {
            i += 1
            while i < s.count, s[i] != "}" {
                let label = try name()
                guard i + 1 < s.count, s[i] == "=", s[i + 1] == "\"" else { throw fail("no =\" after \(label)") }
                i += 2
                var value = String.UnicodeScalarView()
                while true {
                    guard i < s.count else { throw fail("unterminated label value") }
                    let c = s[i]
                    i += 1
                    if c == "\"" { break }
                    if c == "\\" {
                        guard i < s.count else { throw fail("backslash at the end") }
                        switch s[i] {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw fail("unknown escape \\\(s[i])")
                        }
                        i += 1
                    } else {
                        value.append(c)
                    }
                }
                guard labels.updateValue(String(value), forKey: label) == nil else { throw fail("label \(label) twice") }
                if i < s.count, s[i] == "," { i += 1 }
            }
            guard i < s.count, s[i] == "}" else { throw fail("no }") }
            i += 1
        }
        guard i < s.count, s[i] == " " else { throw fail("no space before the value") }
        guard let value = Double(String(String.UnicodeScalarView(s[(i + 1)...]))) else { throw fail("bad value") }
        return Sample(name: metric, labels: labels, value: value)
    }

    /// The samples of `name`, by their labels.
    package func series(_ name: String) -> [[String: String]: Double] {
        var result: [[String: String]: Double] = [:]
        for sample in samples where sample.name == name { result[sample.labels] = sample.value }
        return result
    }

    package func total(_ name: String) -> Double { samples.filter { $0.name == name }.reduce(0) { $0 + $1.value } }
}

/// `promtool`, when Prometheus is installed (Debian `prometheus`).
package enum Promtool {
    package static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        .map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }

    /// `promtool check metrics` on `text`: its exit status and what it said.
    package static func checkMetrics(_ text: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: said, as: UTF8.self))
    }
}
