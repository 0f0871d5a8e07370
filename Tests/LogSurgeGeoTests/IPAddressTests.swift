import LogSurgeTestSupport
import Testing
import LogSurgeGeo
import LogSurgeCore

@Suite("IPAddress parsing and formatting")
struct IPAddressTests {
    @Test(
        "valid IPv4 text",
        arguments: [
            ("0.0.0.0", UInt32(0)),
            ("1.2.3.4", 0x0102_0304),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("192.168.0.1", 0xC0A8_0001),
            ("10.0.10.100", 0x0A00_0A64),
            ("8.8.8.8", 0x0808_0808),
        ])
    func validIPv4(text: String, value: UInt32) throws {
        let address = try #require(IPAddress(text))
        #expect(address.isIPv4)
        #expect(address.ipv4 == value)
        #expect(address == IPAddress(ipv4: value))
        #expect(address.description == text)
    }

    @Test(
        "valid IPv6 text and its canonical form",
        arguments: [
            ("::", "::", UInt64(0), UInt64(0)),
            ("::1", "::1", 0, 1),
            ("1::", "1::", 0x0001_0000_0000_0000, 0),
            ("2001:db8::1", "2001:db8::1", 0x2001_0DB8_0000_0000, 1),
            ("2001:DB8::1", "2001:db8::1", 0x2001_0DB8_0000_0000, 1),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 0x2001_0DB8_0000_0000, 1),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 0x2001_0DB8_0000_0000, 0x0001_0000_0000_0001),
            ("2001:0:0:1::1", "2001:0:0:1::1", 0x2001_0000_0000_0001, 1),
            ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", 0x0001_0002_0003_0004, 0x0005_0006_0007_0008),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0", 0x0001_0002_0003_0004, 0x0005_0006_0007_0000),
            ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8", 0x0000_0002_0003_0004, 0x0005_0006_0007_0008),
            ("fe80::1:2", "fe80::1:2", 0xFE80_0000_0000_0000, 0x0000_0000_0001_0002),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UInt64.max, UInt64.max),
            ("::1.2.3.4", "::102:304", 0, 0x0102_0304),
            ("64:ff9b::192.0.2.33", "64:ff9b::c000:221", 0x0064_FF9B_0000_0000, 0xC000_0221),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3", 0x0001_0000_0000_0002, 0x0000_0000_0000_0003),
            ("0:0:1:0:0:1:0:0", "::1:0:0:1:0:0", 0x0000_0000_0001_0000, 0x0000_0001_0000_0000),
        ])
    func validIPv6(text: String, canonical: String, high: UInt64, low: UInt64) throws {
        let address = try #require(IPAddress(text))
        #expect(address.high == high)
        #expect(address.low == low)
        #expect(!address.isIPv4)
        #expect(address.ipv4 == nil)
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(
        "IPv4-mapped IPv6 is the IPv4 address",
        arguments: [
            "::ffff:1.2.3.4", "::FFFF:1.2.3.4", "0:0:0:0:0:ffff:1.2.3.4", "::ffff:102:304", "::ffff:0102:0304",
        ])
    func mapped(text: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.isIPv4)
        #expect(address == IPAddress("1.2.3.4"))
        #expect(address.description == "1.2.3.4")
    }

    @Test(
        "invalid text is rejected",
        arguments: [
            "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "1.2.3.-1", "01.2.3.4", "1.2.3.04",
            "0001.2.3.4", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24", "1.2.3.4:80",
            "a.b.c.d", "localhost", "example.com", "1.2.3.4a", "1234.1.1.1", "999.999.999.999",
            ":", ":::", "1:::2", "1::2::3", ":1::", "1::2:", "::1:", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "1:2:3:4:5:6:7:89abc", "g::1", "::g",
            "fe80::1%eth0", "[::1]", "[::1]:80", "::1/128", "::ffff:1.2.3", "::ffff:1.2.3.4.5",
            "::ffff:256.1.1.1", "::1.2.3.4:5", "1.2.3.4::", "1:2:3:4:5:6:7:1.2.3.4", "::ffff:01.2.3.4",
            "1:2:3:4:5:6:1.2.3.4:5", "-1::", "+1.2.3.4", "1.2.3.4\n", "\u{0}",
            String(repeating: "1", count: 100),
        ])
    func invalid(text: String) {
        #expect(IPAddress(text) == nil, "\(text.debugDescription) should be rejected")
    }

    @Test("parsing from raw bytes equals parsing the String")
    func rawBytes() {
        let text: [UInt8] = Array("2001:db8::ff00:42:8329".utf8)
        let fromBytes = text.withUnsafeBytes { IPAddress(parsing: $0) }
        #expect(fromBytes == IPAddress("2001:db8::ff00:42:8329"))
        #expect(fromBytes?.description == "2001:db8::ff00:42:8329")
        let empty: [UInt8] = []
        #expect(empty.withUnsafeBytes { IPAddress(parsing: $0) } == nil)
    }

    @Test("description round-trips for random addresses", arguments: [0, 1, 2, 3] as [UInt64])
    func roundTrip(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<2_000 {
            // Random addresses with runs of zero groups, so `::` placement gets exercised.
            var high = random.next()
            var low = random.next()
            let zeroMask = random.next()
            for group in 0..<4 where zeroMask >> UInt64(group) & 1 == 1 { high &= ~(0xFFFF << (16 * UInt64(group))) }
            for group in 0..<4 where zeroMask >> UInt64(group + 4) & 1 == 1 { low &= ~(0xFFFF << (16 * UInt64(group))) }
            let address = seed == 3 ? IPAddress(ipv4: UInt32(truncatingIfNeeded: low)) : IPAddress(high: high, low: low)
            let text = address.description
            let parsed = try #require(IPAddress(text), "\(text) did not parse")
            #expect(parsed == address, "\(text)")
            #expect(parsed.description == text)
        }
    }
}

@Suite("CountryCode")
struct CountryCodeTests {
    @Test("two ASCII letters, upper-cased", arguments: [("US", "US"), ("gb", "GB"), ("dE", "DE"), ("jp", "JP")])
    func valid(text: String, expected: String) throws {
        let code = try #require(CountryCode(isoCode: text))
        #expect(code.description == expected)
        #expect(code.isKnown)
        #expect(code.rawValue == UInt16(expected.utf8.first!) << 8 | UInt16(expected.utf8.last!))
    }

    @Test("anything else is rejected", arguments: ["", "U", "USA", "U1", "1U", "--", "é", "ÜS", "U S", "@A", "[A", "`a", "{a"])
    func invalid(text: String) {
        #expect(CountryCode(isoCode: text) == nil)
    }

    @Test("unknown prints -- and sorts first; order is alphabetical")
    func unknownAndOrder() throws {
        #expect(CountryCode.unknown.description == "--")
        #expect(CountryCode.unknown.rawValue == 0)
        #expect(!CountryCode.unknown.isKnown)
        #expect(CountryCode(rawValue: 0x0102).description == "--")
        let codes = ["US", "DE", "AU", "GB", "AT"].map { CountryCode(isoCode: $0)! } + [.unknown]
        #expect(codes.sorted().map(\.description) == ["--", "AT", "AU", "DE", "GB", "US"])
    }

    @Test(
        "metadata build dates format as YYYY-MM-DD",
        arguments: [
            (UInt64(0), "1970-01-01"), (951_782_400, "2000-02-29"), (1_782_362_039, "2026-06-25"),
            (4_102_444_799, "2099-12-31"),
        ])
    func buildDates(epoch: UInt64, expected: String) throws {
        var writer = MMDBWriter(ipVersion: 4, recordSize: 24)
        writer.buildEpoch = epoch
        writer.insert("1.0.0.0/8", countryRecord("AU"))
        let reader = try MMDBReader(bytes: writer.build())
        #expect(reader.metadata.buildEpoch == epoch)
        #expect(reader.metadata.buildDate == expected)
    }
}
