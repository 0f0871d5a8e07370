import LogSurgeTestSupport
import LogSurgeParse
import Testing
import LogSurgeCore

@Suite("Malformed lines")
struct MalformedTests {
    static let examples: [(line: String, format: LogFormat, reason: MalformedReason)] = [
        ("", .combined, .empty),
        ("\r", .combined, .empty),
        ("    ", .common, .empty),
        ("  \r", .vhostCombined, .empty),
        (" 127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badClient),
        ("\u{1}127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badClient),
        ("127.0.0.1\t- - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badClient),
        ("\"127.0.0.1\" - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badClient),
        ("h\u{e9}te.example - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badClient),
        ("site.example  - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .vhostCommon, .badClient),
        (commonLine(time: "31/Feb/2016:10:00:00 +0000"), .common, .badTimestamp),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36] \"GET / HTTP/1.0\" 200 5", .common, .badTimestamp),
        ("127.0.0.1 - - [] \"GET / HTTP/1.0\" 200 5", .common, .badTimestamp),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] GET / HTTP/1.0 200 5", .common, .badRequest),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0 200 5", .common, .badRequest),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\\\" 200 5", .common, .badRequest),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700]  \"GET / HTTP/1.0\" 200 5", .common, .badRequest),
        (commonLine(status: "-"), .common, .badStatus),
        (commonLine(status: "2000"), .common, .badStatus),
        (commonLine(status: "20"), .common, .badStatus),
        (commonLine(status: "OK!"), .common, .badStatus),
        (commonLine(status: "-12"), .common, .badStatus),
        (commonLine(status: ""), .common, .badStatus),
        (combinedLine(status: "2x0"), .combined, .badStatus),
        (commonLine(size: "12a"), .common, .badSize),
        (commonLine(size: "-5"), .common, .badSize),
        (commonLine(size: "--"), .common, .badSize),
        (commonLine(size: "18446744073709551616"), .common, .badSize),
        (commonLine(size: "99999999999999999999999"), .common, .badSize),
        (commonLine(size: "") + " 5", .common, .badSize),
        (combinedLine(size: "1e3"), .combined, .badSize),
        ("hello world", .common, .badFormat),
        ("127.0.0.1", .common, .badFormat),
        ("127.0.0.1 - - 10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.0\" 200 5", .common, .badFormat),
        ("127.0.0.1 - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badFormat),
        ("127.0.0.1  - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badFormat),
        ("127.0.0.1 - \"unterminated [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 5", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700]", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700]x\"GET / HTTP/1.0\" 200 5", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\"", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" ", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200", .common, .badFormat),
        ("127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 ", .common, .badFormat),
        (commonLine(), .combined, .badFormat),
        (commonLine() + " \"-\"", .combined, .badFormat),
        (commonLine() + " - -", .combined, .badFormat),
        (combinedLine(), .vhostCombined, .badFormat),
        ("\u{1}host " + commonLine(), .vhostCommon, .badFormat),
        ("host", .vhostCommon, .badFormat),
    ]

    @Test("Each line gets the reason of its first wrong field", arguments: examples)
    func reason(_ line: String, _ format: LogFormat, _ reason: MalformedReason) {
        #expect(outcome(line, format) == .malformed(reason))
    }

    @Test("Every reason has an example above, except line_too_long which has its own test")
    func everyReasonCovered() {
        let covered = Set(Self.examples.map(\.reason)).union([.tooLong])
        #expect(covered == Set(MalformedReason.allCases))
    }

    @Test("Lines longer than maxLineLength are line_too_long; a line of exactly that length parses")
    func tooLong() {
        let shortLine = combinedLine(agent: "")
        let limit = AccessLogParser.maxLineLength
        let fitting = combinedLine(agent: String(repeating: "a", count: limit - shortLine.utf8.count))
        #expect(fitting.utf8.count == limit)
        #expect(outcome(fitting, .combined).fields?.status == 200)
        #expect(outcome(fitting + "\r", .combined).fields?.status == 200)
        #expect(outcome(fitting + "a", .combined) == .malformed(.tooLong))
        #expect(outcome(String(repeating: "x", count: AccessLogParser.maxLineLength + 1), .common) == .malformed(.tooLong))
    }

    @Test("Report names are the fixed snake_case set and sort by name")
    func names() {
        #expect(
            MalformedReason.allCases.map(\.rawValue) == [
                "empty_line", "line_too_long", "bad_client", "bad_timestamp", "bad_request", "bad_status", "bad_size",
                "bad_format",
            ])
        #expect(MalformedReason.allCases.sorted().map(\.rawValue) == MalformedReason.allCases.map(\.rawValue).sorted())
    }
}

@Suite("Response sizes")
struct SizeTests {
    /// What the size field `text` must give: its value, or `badSize`.
    private func expected(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return UInt64(text)
    }

    @Test("sizes read a word at a time agree with the digits, at every length and with any byte after them")
    func wordAtATime() {
        var random = SeededGenerator(seed: 1101)
        let odd: [String] = [":", "/", "a", "-", "\t", "0x", "é", "\u{7F}", "+", "."]
        var sizes: [String] = ["0", "00", "0000000", "00000000", "9999999", "10000000", "18446744073709551615", "18446744073709551616"]
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...22, using: &random)
            var digits = String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
            if Int.random(in: 0..<4, using: &random) == 0 {
                // A stray byte somewhere in or right after the digits.
                let at = digits.index(digits.startIndex, offsetBy: Int.random(in: 0...length, using: &random))
                digits.insert(contentsOf: odd.randomElement(using: &random)!, at: at)
            }
            sizes.append(digits)
        }
        for size in sizes {
            // Combined lines have the referer after the size (the word path); common lines end with it.
            for (line, format) in [(combinedLine(size: size), LogFormat.combined), (commonLine(size: size), .common)] {
                let result = outcome(line, format)
                if let value = expected(size) {
                    #expect(result.fields?.bytes == value, "\(format.rawValue) size \(size)")
                } else {
                    #expect(result == .malformed(.badSize), "\(format.rawValue) size \(size)")
                }
            }
        }
    }
}

@Test("A reason's index is its place in allCases")
func reasonIndices() {
    for (position, reason) in MalformedReason.allCases.enumerated() { #expect(reason.index == position) }
}
