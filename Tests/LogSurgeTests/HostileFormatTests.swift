import Foundation
import LogSurgePipelineTestSupport
import LogSurge
import LogSurgeParse
import Testing

/// Hostile chains, headers and JSON through the whole pipeline: every line counted once under
/// one outcome, the buckets holding exactly the parsed lines, and the client where the rules
/// of `--real-ip` put it, at every thread count and chunk size.
@Suite struct HostileFormatTests {
    /// The run of `lines` as one file read with `format` and `headers`, checked at several chunkings.
    static func run(_ lines: [[UInt8]], format: LineFormat, headers: HeaderRoles = HeaderRoles()) throws -> Analysis {
        let path = Support.temporaryDirectory().appendingPathComponent("hostile.log").path
        try Support.writeFile(path, Data(lines.joined(separator: [0x0A]) + [0x0A]))
        var first: Analysis?
        for (threads, chunkSize) in [(1, 2 << 20), (2, 64), (2, 1)] {
            let analysis = Support.analyze([path]) {
                $0.lines.format = .fixed(format)
                $0.lines.headers = headers
                $0.reading.threads = threads
                $0.reading.chunkSize = chunkSize
                $0.reading.minimumRangeSize = 1
            }
            Support.expectInvariants(analysis)
            #expect(analysis.accounting.lines == UInt64(lines.count) - analysis.accounting.directives)
            if let first {
                #expect(analysis.buckets.rows() == first.buckets.rows(), "\(threads) threads, chunks of \(chunkSize)")
                #expect(analysis.accounting == first.accounting, "\(threads) threads, chunks of \(chunkSize)")
            }
            first = first ?? analysis
        }
        return first!
    }

    static let forwarded = HeaderRoles(forwarded: HeaderName("X-Forwarded-For"), country: HeaderName("CF-IPCountry"))

    /// A main line from a Cloudflare edge with this X-Forwarded-For.
    static func main(_ chain: [UInt8], agent: [UInt8] = Array("Mozilla/5.0".utf8)) -> [UInt8] {
        Array(#"162.158.88.115 - - [09/Nov/2016:02:31:05 +0000] "GET / HTTP/1.1" 200 10 "-" ""#.utf8) + agent + Array(#"" ""#.utf8) + chain
            + [0x22]
    }

    @Test("Hostile chains: the client is where the walk stops, never a crash")
    func chains() throws {
        let cases: [(chain: [UInt8], country: String)] = [
            (Array("".utf8), "US"),  // empty: the edge (Cloudflare is US in the database)
            (Array("-".utf8), "US"),
            (Array("unknown".utf8), "US"),  // not an address: the walk ends at the edge
            (Array("unknown, 8.8.8.8".utf8), "US"),
            (Array("85.214.132.117".utf8), "DE"),
            (Array("1.2.3.4, 85.214.132.117".utf8), "DE"),  // a spoofed leftmost entry is never reached
            (Array("85.214.132.117, 10.0.0.2, 172.16.0.9".utf8), "DE"),
            (Array("[2a02:8100::1]:443".utf8), "DE"),
            (Array("[2a02:8100::1]".utf8), "US"),  // brackets without a port: not an address (nginx)
            (Array("85.214.132.117:8080".utf8), "DE"),
            (Array(String(repeating: "10.0.0.1, ", count: 1_000).utf8) + Array("85.214.132.117".utf8), "DE"),
            (Array((0..<1_000).map { "85.214.\($0 / 250).\($0 % 250 + 1)" }.joined(separator: ", ").utf8), "DE"),
            (Array(repeating: UInt8(ascii: "x"), count: 64 << 10 - 200), "US"),  // a 64 KiB header that is not an address
            (Array(repeating: UInt8(ascii: "x"), count: 64 << 10), "US"),  // escaped headers pass 64 KiB: still read
            (Array(repeating: UInt8(ascii: "x"), count: 1 << 20), "--"),  // over the line limit with the rest: too long
            (Array(repeating: UInt8(ascii: ","), count: 30_000), "US"),
            ([0xFF, 0xFE, 0x00, 0x22, 0x5C], "US"),
        ]
        for (chain, country) in cases {
            let analysis = try Self.run([Self.main(chain)], format: .main, headers: Self.forwarded)
            let line = Self.main(chain)
            if line.count > AccessLogParser.maxLineLength {
                #expect(analysis.accounting.malformed[.tooLong] == 1)
                continue
            }
            let countries = analysis.buckets.countsByCountry()
            #expect(
                countries.count == 1 && countries.keys.first?.description == country,
                "\(String(decoding: chain.prefix(60), as: UTF8.self)): \(countries)")
        }
    }

    @Test("JSON: keys in any order, duplicates, nesting, escapes, invalid UTF-8: counted or a reason, never a crash")
    func json() throws {
        let json = LineFormat.named("json")!
        let lines: [[UInt8]] = [
            Array(#"{"status":200,"remote_addr":"8.8.8.8","time":"2016-11-09T02:31:05Z","size":5}"#.utf8),
            Array(#"{"time":"2016-11-09T02:31:05Z","size":5,"remote_addr":"8.8.8.8","status":200}"#.utf8),
            Array(#"{"time":"2016-11-09T02:31:05Z","status":500,"status":200,"remote_addr":"1.1.1.1","remote_addr":"8.8.8.8"}"#.utf8),
            Array(#"{"a":{"b":{"c":[1,2,{"d":"}]\"{"}]}},"time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8"}"#.utf8),
            Array(#"{"ua":"\"quoted\" \\ \u0000 \/","time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8"}"#.utf8),
            Array(#"{"ua":""#.utf8) + [0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80]
                + Array(#"","time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8"}"#.utf8),
            Array(#"{"REMOTE-ADDR":"8.8.8.8","Time":"2016-11-09T02:31:05Z","STATUS":"200"}"#.utf8),
            // Nested deeper than JSONLineParser.maximumDepth: bad_format, not recursed into.
            Array(#"{"time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8","x":"#.utf8)
                + Array(repeating: UInt8(ascii: "["), count: 5_000),
            Array(#"{"time":"2016-11-09T02:31:05Z","status":200,"#.utf8) + Array((0..<2_000).map { #""k\#($0)":\#($0),"# }.joined().utf8)
                + Array(#""remote_addr":"8.8.8.8"}"#.utf8),
            Array(repeating: UInt8(ascii: "\""), count: 3_000),
            Array(repeating: UInt8(ascii: "{"), count: 3_000),
            Array(#"{"time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8"#.utf8),  // cut inside the client: not counted
            Array(#"{"time":"2016-11-09T02:31:05Z","status":200,"remote_addr":"8.8.8.8","ua":"cut"#.utf8),  // cut after it: counted
            [],
        ]
        let analysis = try Self.run(lines, format: json)
        // The first seven, the thousands of keys and the one cut after the fields give 8.8.8.8 (US).
        #expect(analysis.accounting.parsed == 9, "\(analysis.accounting.malformed)")
        #expect(analysis.buckets.countsByCountry().keys.map(\.description) == ["US"])
        #expect(analysis.accounting.clients.truncated == 1)
        #expect(analysis.accounting.malformed[.badClient] == nil || analysis.accounting.malformed[.badClient] == 0)
    }

    @Test("W3C: #Fields: lines anywhere, many of them, columns that change, data before any")
    func w3c() throws {
        let w3c = LineFormat.named("w3c")!
        var lines: [[UInt8]] = [Array("2016-11-09 02:31:05 8.8.8.8 200".utf8)]  // before any #Fields: bad_format
        for index in 0..<300 {
            lines.append(Array((index % 2 == 0 ? "#Fields: date time c-ip sc-status" : "#Fields: time date sc-status c-ip sc-bytes").utf8))
            lines.append(Array((index % 2 == 0 ? "2016-11-09 02:31:05 8.8.8.8 200" : "02:31:05 2016-11-09 200 8.8.8.8 10").utf8))
        }
        lines.append(Array("#Fields:".utf8))
        lines.append(Array("2016-11-09 02:31:05 8.8.8.8 200".utf8))  // no columns: bad_format
        let analysis = try Self.run(lines, format: w3c)
        #expect(analysis.accounting.parsed == 300)
        #expect(analysis.accounting.directives == 301)
        #expect(analysis.accounting.malformed[.badFormat] == 2)
    }
}
