import LogSurgeGeo
import Testing

/// Finding the real client in an address chain, as nginx's `real_ip_recursive on` does.
@Suite("Forwarded chains and trusted proxies")
struct ForwardedChainTests {
    static let trusted = TrustedProxies.proxyLike

    /// The client and its source for a chain and a connecting address (nil: the format logs none).
    static func client(
        _ chain: String?, connecting: String?, trusted: AddressSet = trusted, rfc7239: Bool = false
    ) -> (String?, ClientSource) {
        let walker = ForwardedChain(trusted: trusted, rfc7239: rfc7239)
        let address = connecting.flatMap { IPAddress($0) }
        let bytes = chain.map { Array($0.utf8) }
        let (found, source) =
            bytes.map { array in
                array.withUnsafeBytes { walker.client(chain: $0, connecting: address, connectingLogged: connecting != nil) }
            } ?? walker.client(chain: nil, connecting: address, connectingLogged: connecting != nil)
        return (found?.description, source)
    }

    @Test(
        "Walked from the right past trusted proxies; the first untrusted address is the client",
        arguments: [
            // chain, connecting, client, source
            ("85.214.132.117", "162.158.88.115", "85.214.132.117", ClientSource.forwarded),
            ("85.214.132.117, 10.0.0.2", "162.158.88.115", "85.214.132.117", .forwarded),
            ("1.2.3.4, 85.214.132.117, 10.0.0.2", "10.0.0.3", "85.214.132.117", .forwarded),  // a spoofed leftmost entry is never reached
            ("85.214.132.117", "203.0.113.9", "203.0.113.9", .connecting),  // an untrusted peer is the client, whatever it sent
            ("10.0.0.1, 192.168.1.1", "127.0.0.1", "10.0.0.1", .forwarded),  // all trusted: the leftmost
            ("unknown, 10.0.0.2", "10.0.0.3", "10.0.0.2", .forwarded),  // a malformed entry ends the walk there
            ("unknown", "10.0.0.3", "10.0.0.3", .connecting),
            ("", "10.0.0.3", "10.0.0.3", .connecting),
            (" , ,", "10.0.0.3", "10.0.0.3", .connecting),
            ("85.214.132.117:4711", "10.0.0.3", "85.214.132.117", .forwarded),  // nginx accepts a port
            ("[2001:db8:cafe::17]:4711", "10.0.0.3", "2001:db8:cafe::17", .forwarded),
            ("[2001:db8:cafe::17]", "10.0.0.3", "10.0.0.3", .connecting),  // brackets without a port: not an address (nginx)
            ("2001:db8:cafe::17", "10.0.0.3", "2001:db8:cafe::17", .forwarded),
            ("85.214.132.117:0", "10.0.0.3", "10.0.0.3", .connecting),
            ("85.214.132.117:65536", "10.0.0.3", "10.0.0.3", .connecting),
            ("www.example.com", "10.0.0.3", "10.0.0.3", .connecting),
            ("85.214.132.117,,10.0.0.2", "10.0.0.3", "85.214.132.117", .forwarded),
            ("\"85.214.132.117\", \"10.0.0.2\"", "10.0.0.3", "85.214.132.117", .forwarded),  // JSON arrays of strings (Caddy)
        ])
    func walk(_ chain: String, _ connecting: String, _ expected: String, _ source: ClientSource) {
        let (found, foundSource) = Self.client(chain, connecting: connecting)
        #expect(found == expected)
        #expect(foundSource == source)
    }

    @Test("Without a connecting address (X-Forwarded-For first), the chain alone decides")
    func chainOnly() {
        #expect(Self.client("85.214.132.117, 162.158.88.115", connecting: nil) == ("85.214.132.117", .forwarded))
        #expect(Self.client("unknown", connecting: nil) == (nil, .none))
        #expect(Self.client(nil, connecting: nil) == (nil, .none))
        #expect(Self.client("10.0.0.1", connecting: nil) == ("10.0.0.1", .forwarded))
    }

    @Test("RFC 7239 Forwarded: the for= of each element, quoted or not")
    func rfc7239() {
        #expect(
            Self.client("for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\";proto=https", connecting: "10.0.0.1", rfc7239: true)
                == ("2001:db8:cafe::17", .forwarded))
        #expect(
            Self.client(
                "for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com, For=10.0.0.2", connecting: "10.0.0.1", rfc7239: true)
                == ("198.51.100.17", .forwarded))
        #expect(Self.client("for=unknown", connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
        #expect(Self.client("for=_hidden, for=10.0.0.2", connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.2", .forwarded))
        #expect(Self.client("proto=https", connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
        #expect(Self.client("for=\"[2001:db8::1]\", for=\"a,b\"", connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
        // Quotes as the log escaped them: Apache and JSON `\"`, nginx `\x22`.
        #expect(Self.client(#"for=\"198.51.100.7\";proto=https"#, connecting: "10.0.0.1", rfc7239: true) == ("198.51.100.7", .forwarded))
        #expect(Self.client(#"for=\x22[2001:db8::9]:4711\x22"#, connecting: "10.0.0.1", rfc7239: true) == ("2001:db8::9", .forwarded))
        #expect(Self.client(#"for=\X22198.51.100.8\X22"#, connecting: "10.0.0.1", rfc7239: true) == ("198.51.100.8", .forwarded))
        // Caddy logs a header sent on several lines as an array: each element a JSON string.
        #expect(Self.client(#""for=198.51.100.7","for=81.2.69.142""#, connecting: "10.0.0.1", rfc7239: true) == ("81.2.69.142", .forwarded))
        #expect(Self.client(#""for=198.51.100.7", "for=10.0.0.2""#, connecting: "10.0.0.1", rfc7239: true) == ("198.51.100.7", .forwarded))
        // A lone escaped quote is not a quoted value.
        #expect(Self.client(#"for=\"198.51.100.7"#, connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
    }

    @Test("A Forwarded header of quotes and commas is split by quote parity")
    func rfc7239QuotedCommas() {
        // Commas inside a quoted value do not split: the element is the whole `for="a,b"`.
        #expect(Self.client(#"for=198.51.100.7, for="x,y,z""#, connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
        #expect(Self.client(#"for="x,y,z", for=198.51.100.7"#, connecting: "10.0.0.1", rfc7239: true) == ("198.51.100.7", .forwarded))
        // 64 KiB of quotes and commas (once a rescan per comma) ends with nothing to believe.
        let header = String(repeating: "\",", count: 32 << 10)
        #expect(Self.client(header, connecting: "10.0.0.1", rfc7239: true) == ("10.0.0.1", .connecting))
    }

    @Test("Hostile chains: 1,000 entries and a 64 KiB header cost a bounded walk")
    func hostile() {
        let many = (0..<1000).map { "10.0.\($0 / 256).\($0 % 256)" }.joined(separator: ", ")
        let (found, source) = Self.client(many, connecting: "10.0.0.1")
        #expect(source == .forwarded)
        // At most `maximumEntries` are examined: the client is the last one reached.
        let entries = many.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(found == entries[entries.count - ForwardedChain.maximumEntries])
        let junk = String(repeating: "x", count: 64 << 10)
        #expect(Self.client(junk, connecting: "10.0.0.1") == ("10.0.0.1", .connecting))
        #expect(Self.client(String(repeating: ",", count: 64 << 10), connecting: "10.0.0.1") == ("10.0.0.1", .connecting))
    }

    @Test("--trusted-proxy names and blocks; only what is named is trusted")
    func trustedSets() throws {
        let cloudflare = try TrustedProxies.set(["cloudflare"])
        #expect(cloudflare.contains(IPAddress("162.158.88.115")!))
        #expect(cloudflare.contains(IPAddress("2606:4700::1")!))
        #expect(!cloudflare.contains(IPAddress("10.0.0.1")!))
        let blocks = try TrustedProxies.set(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"])
        #expect(blocks.contains(IPAddress("203.0.113.200")!))
        #expect(!blocks.contains(IPAddress("203.0.114.1")!))
        #expect(blocks.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(blocks.contains(IPAddress("198.51.100.7")!))
        #expect(!blocks.contains(IPAddress("198.51.100.8")!))
        #expect(Self.client("85.214.132.117", connecting: "162.158.88.115", trusted: blocks) == ("162.158.88.115", .connecting))
        #expect(throws: AddressSetError.self) { try TrustedProxies.set(["akamai"]) }
        #expect(throws: AddressSetError.self) { try TrustedProxies.set(["10.0.0.0/33"]) }
        #expect(throws: AddressSetError.self) { try TrustedProxies.set(["10.0.0.0/8x"]) }
        let everything = try TrustedProxies.set(["0.0.0.0/0", "::/0"])
        #expect(everything.contains(IPAddress("8.8.8.8")!))
        #expect(everything.contains(IPAddress("2a00::1")!))
    }

    @Test("Membership agrees with the ranges at every /16 edge, whole blocks answered by the bitmap included")
    func blockEdges() throws {
        let cidrs = [
            "162.158.0.0/15", "10.0.0.0/8", "1.2.3.0/24", "0.0.0.0/16", "255.255.0.0/16", "100.64.0.0/10",
            "172.16.0.0/12", "192.168.0.0/17", "192.168.128.0/17", "9.255.255.255/32", "11.0.0.0/32",
        ]
        let set = try AddressSet(cidrs: cidrs)
        let ranges: [(UInt32, UInt32)] = cidrs.map { cidr in
            let parts = cidr.split(separator: "/")
            let octets = parts[0].split(separator: ".").map { UInt32($0)! }
            let base = octets.reduce(0) { $0 << 8 | $1 }
            let bits = UInt32(parts[1])!
            let mask: UInt32 = bits == 0 ? 0 : ~0 << (32 - bits)
            return (base & mask, base | ~mask)
        }
        var probes: [UInt32] = []
        for (low, high) in ranges {
            for edge in [low, high] {
                probes += [edge &- 1, edge, edge &+ 1, edge & 0xFFFF_0000, edge | 0xFFFF, (edge & 0xFFFF_0000) &- 1]
            }
        }
        for value in probes {
            let text = "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
            let expected = ranges.contains { $0.0 <= value && value <= $0.1 }
            #expect(set.contains(IPAddress(text)!) == expected, "\(text)")
        }
    }

    @Test("The private ranges, and each embedded CDN's list", arguments: CDNProvider.embedded.map(\.name))
    func embeddedProviders(_ name: String) throws {
        let provider = try #require(CDNProvider.embedded.first { $0.name == name })
        #expect(provider.ranges.count >= 10)
        #expect(provider.published.count == 10)
        let set = try #require(TrustedProxies.cdnRanges[name])
        for cidr in provider.ranges {
            let base = String(cidr.split(separator: "/")[0])
            #expect(set.contains(IPAddress(base)!), "\(cidr)")
            #expect(TrustedProxies.allCDNs.contains(IPAddress(base)!))
        }
        for address in ["8.8.8.8", "85.214.132.117", "2a02:d500::1"] {
            #expect(!set.contains(IPAddress(address)!), "\(address)")
        }
        for address in ["127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1", "fe80::1"]
        {
            #expect(TrustedProxies.privateRanges.contains(IPAddress(address)!), "\(address)")
        }
        #expect(!TrustedProxies.privateRanges.contains(IPAddress("172.32.0.1")!))
    }

    @Test(
        "Country headers: an assigned ISO code, else nothing",
        arguments: [
            ("US", "US"), ("DE", "DE"), ("XK", "XK"), ("XX", nil), ("T1", nil), ("-", nil), ("", nil), ("us", nil), ("USA", nil),
            ("ZZ", nil), ("EU", nil),
        ] as [(String, String?)])
    func countryCodes(_ text: String, _ expected: String?) {
        let code = Array(text.utf8).withUnsafeBytes { CountryCode(assigned: $0) }
        #expect(code?.description == expected)
    }
}

import Foundation
import LogSurgeCore
