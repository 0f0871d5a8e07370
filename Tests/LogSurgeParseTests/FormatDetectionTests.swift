import LogSurgeParse
import Testing

@Suite("Format detection")
struct FormatDetectionTests {
    static func sample(_ format: LogFormat, count: Int = 50) -> [String] {
        (0..<count).map { index in
            let time = "09/Nov/2016:02:\(10 + index % 50):0\(index % 10) -0500"
            let client = index % 3 == 0 ? "2001:db8::\(index)" : "192.0.2.\(index)"
            switch format {
            case .common: return commonLine(client: client, time: time)
            case .combined: return combinedLine(client: client, time: time, size: index % 4 == 0 ? "-" : "\(index)")
            case .vhostCombined: return "www\(index % 3).example.com:443 " + combinedLine(client: client, time: time)
            case .vhostCommon: return "www\(index % 3).example.com " + commonLine(client: client, time: time)
            }
        }
    }

    static func detect(_ lines: [String]) -> LogFormat? {
        let buffers = lines.map { Array($0.utf8) }
        var pointers: [UnsafeRawBufferPointer] = []
        func collect(_ index: Int) -> LogFormat? {
            if index == buffers.count { return AccessLogParser.detectFormat(pointers) }
            return buffers[index].withUnsafeBytes { raw in
                pointers.append(raw)
                return collect(index + 1)
            }
        }
        return collect(0)
    }

    static func detect(chunk: String, maxLines: Int = 200) -> LogFormat? {
        Array(chunk.utf8).withUnsafeBytes { AccessLogParser.detectFormat(chunk: $0, maxLines: maxLines) }
    }

    static let garbage = [
        "", "hello world", "\u{16}\u{3}\u{1}binary", "<html><body>404</body></html>", "GET / HTTP/1.1",
        "2016-11-09 02:31:07 INFO started", "127.0.0.1 - - [not a time] \"GET /\" 200 1",
    ]

    @Test("Each format's own lines are detected as that format", arguments: LogFormat.allCases)
    func ownFormat(_ format: LogFormat) {
        #expect(Self.detect(Self.sample(format)) == format)
        #expect(Self.detect(chunk: Self.sample(format).joined(separator: "\n") + "\n") == format)
        #expect(Self.detect(chunk: Self.sample(format).joined(separator: "\r\n") + "\r\n") == format)
    }

    @Test("Lines mixed with garbage: the format most lines parse under wins", arguments: LogFormat.allCases)
    func withGarbage(_ format: LogFormat) {
        let lines = Self.garbage + Self.sample(format, count: 5) + Self.garbage
        #expect(Self.detect(lines) == format)
    }

    @Test("Garbage alone and nothing at all detect no format")
    func nothing() {
        #expect(Self.detect(Self.garbage) == nil)
        #expect(Self.detect([]) == nil)
        #expect(Self.detect(chunk: "") == nil)
        #expect(Self.detect(chunk: Self.garbage.joined(separator: "\n")) == nil)
    }

    @Test("More common lines than combined ones: common, which parses them all")
    func mixedCommonAndCombined() {
        #expect(Self.detect(Self.sample(.combined, count: 3) + Self.sample(.common, count: 4)) == .common)
        #expect(Self.detect(Self.sample(.combined, count: 4) + Self.sample(.vhostCombined, count: 3)) == .combined)
    }

    @Test("A chunk's partial last line is ignored; a chunk without newline is one line")
    func chunkEdges() {
        let lines = Self.sample(.combined, count: 3)
        let partial = String(lines[0].prefix(while: { $0 != "\"" })) + "\"GET / HTTP/1.1\" 200 5"
        #expect(Self.detect(chunk: lines.joined(separator: "\n") + "\n" + partial) == .combined)
        #expect(Self.detect(chunk: lines[0]) == .combined)
        #expect(Self.detect(chunk: partial) == .common)
        #expect(Self.detect(chunk: "\n\n\n" + lines.joined(separator: "\n\n") + "\n") == .combined)
    }

    @Test("maxLines limits how many lines are examined")
    func maxLines() {
        let chunk = (Self.sample(.vhostCommon, count: 3) + Self.sample(.common, count: 10)).joined(separator: "\n") + "\n"
        #expect(Self.detect(chunk: chunk, maxLines: 3) == .vhostCommon)
        #expect(Self.detect(chunk: chunk, maxLines: 6) == .vhostCommon)
        #expect(Self.detect(chunk: chunk, maxLines: 7) == .common)
        #expect(Self.detect(chunk: chunk) == .common)
    }
}
