import LogSurgeCore
#if canImport(Glibc)
import Glibc
import LogSurgeParse
import LogSurgeTestSupport
import Testing

/// A page of readable memory between two inaccessible pages: any read outside it crashes.
final class GuardedPage {
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    let region: UnsafeMutableRawPointer

    init?() {
        guard let mapped = mmap(nil, 3 * pageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            mapped != MAP_FAILED,
            mprotect(mapped + pageSize, pageSize, PROT_READ | PROT_WRITE) == 0
        else { return nil }
        region = mapped
    }

    deinit { munmap(region, 3 * pageSize) }

    /// Calls `body` with `bytes` copied to the start and then to the end of the readable page.
    func withLine<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> [R] {
        precondition(bytes.count <= pageSize)
        let page = region + pageSize
        return [page, page + (pageSize - bytes.count)].map { start in
            bytes.withUnsafeBytes { source in
                if let base = source.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) }
            }
            return body(UnsafeRawBufferPointer(start: start, count: bytes.count))
        }
    }
}

@Suite("Guard pages")
struct GuardPageTests {
    @Test("Lines touching inaccessible memory on either side parse without reading past them")
    func guardPages() throws {
        let page = try #require(GuardedPage())
        var random = SeededGenerator(seed: 7)
        var lines: [[UInt8]] = []
        for (line, _) in RobustnessTests.seeds {
            let bytes = Array(line.utf8)
            lines += (0...bytes.count).map { Array(bytes[..<$0]) }  // every prefix, down to empty
            lines += (0..<200).map { _ in
                var mutated = bytes
                mutated[Int.random(in: 0..<bytes.count, using: &random)] =
                    [0x22, 0x5C, 0x20, 0x5B][
                        Int.random(in: 0..<4, using: &random)]
                return mutated
            }
        }
        var parsed = 0
        for line in lines {
            for format in LogFormat.allCases {
                var parser = AccessLogParser(format: format)
                let results = page.withLine(line) { parser.parse($0) }
                #expect(results[0] == results[1])
                if case .parsed = results[0] { parsed += 1 }
            }
            let detected = page.withLine(line) { AccessLogParser.detectFormat(chunk: $0) }
            #expect(detected[0] == detected[1])
        }
        #expect(parsed > 100)
    }
}
#endif
