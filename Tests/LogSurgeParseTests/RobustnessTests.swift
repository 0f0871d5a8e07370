import LogSurgeTestSupport
import LogSurgeParse
import Testing
import LogSurgeCore

@Suite("Hostile input")
struct RobustnessTests {
    static let seeds: [(String, LogFormat)] = [
        (combinedLine(), .combined),
        (combinedLine(client: "2001:db8::1", request: #"GET /a\"b HTTP/1.1"#, agent: #"x \\"#), .combined),
        (commonLine(), .common),
        ("www.example.com:443 " + combinedLine(user: #""a b""#), .vhostCombined),
        ("www.example.com " + commonLine(size: "-"), .vhostCommon),
    ]

    @Test("Every proper prefix of a combined line is malformed, never a crash, unless it ends inside the referer or user agent")
    func prefixes() {
        for (line, format) in Self.seeds where format == .combined || format == .vhostCombined {
            let bytes = Array(line.utf8)
            var parser = AccessLogParser(format: format)
            guard let whole = outcome(bytes, with: &parser).fields else {
                Issue.record("the seed does not parse: \(line)")
                continue
            }
            // The opening quotes of the referer and the user agent: the last two ` "` of the line.
            let opening = bytes.indices.dropLast().filter { bytes[$0] == 0x20 && bytes[$0 + 1] == 0x22 }.suffix(2).map { $0 + 1 }
            let refererClose = bytes[(opening[0] + 1)...].firstIndex(of: 0x22)!
            for length in 0..<bytes.count {
                let prefix = Array(bytes[..<length])
                // Cut inside a quoted field after everything used: counted, marked truncated.
                let insideQuoted = (length > opening[0] && length <= refererClose) || length > opening[1]
                var expected = whole
                expected.truncated = true
                let got = outcome(prefix, with: &parser).fields
                #expect(got == (insideQuoted ? expected : nil), "\(String(decoding: prefix, as: UTF8.self))")
            }
        }
    }

    @Test("Random mutations never crash, keep ranges inside the line, and a warm parser agrees with a fresh one")
    func mutations() {
        var random = SeededGenerator(seed: 2016)
        let interesting: [UInt8] = Array(" \"\\[]:/-+0123456789\r\t".utf8) + [0x00, 0x7F, 0x80, 0xFF]
        var warm = LogFormat.allCases.map { AccessLogParser(format: $0) }
        var parsedCount = 0
        for iteration in 0..<20_000 {
            let (seedLine, _) = Self.seeds[iteration % Self.seeds.count]
            var bytes = Array(seedLine.utf8)
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<max(bytes.count, 1), using: &random)
                let byte = interesting.randomElement(using: &random)!
                switch Int.random(in: 0..<4, using: &random) {
                case 0 where !bytes.isEmpty: bytes[position] = byte
                case 1: bytes.insert(byte, at: min(position, bytes.count))
                case 2 where !bytes.isEmpty: bytes.remove(at: position)
                default: bytes.removeLast(min(bytes.count, Int.random(in: 0...8, using: &random)))
                }
            }
            for (index, format) in LogFormat.allCases.enumerated() {
                var fresh = AccessLogParser(format: format)
                let expected = outcome(bytes, with: &fresh)  // checks ranges are inside the line
                let got = outcome(bytes, with: &warm[index])
                if got != expected {
                    Issue.record("warm \(got) != fresh \(expected) for \(String(decoding: bytes, as: UTF8.self))")
                }
                if case .parsed(let fields) = got {
                    parsedCount += 1
                    #expect(fields.status <= 999)
                }
            }
        }
        // The mutations must leave a good share of lines valid, or the test proves little.
        #expect(parsedCount > 5_000)
    }
}
