@testable import LogSurgeGeo
import LogSurgeTestSupport
import Testing
import LogSurgeCore

/// The straightforward byte-by-byte parser the unrolled one replaced: the oracle.
private func referenceIPv4(_ bytes: [UInt8]) -> UInt32? {
    var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, dots = 0
    for byte in bytes {
        let digit = byte &- UInt8(ascii: "0")
        if digit < 10 {
            if digits == 1 && octet == 0 { return nil }  // a leading zero
            octet = octet * 10 + UInt32(digit)
            digits += 1
            if digits > 3 { return nil }
        } else if byte == UInt8(ascii: ".") {
            guard digits > 0, octet <= 255, dots < 3 else { return nil }
            value = value << 8 | octet
            (octet, digits, dots) = (0, 0, dots + 1)
        } else {
            return nil
        }
    }
    guard dots == 3, digits > 0, octet <= 255 else { return nil }
    return value << 8 | octet
}

@Suite("IPv4 text")
struct IPv4ParsingTests {
    @Test("the unrolled parser agrees with the byte-by-byte one on a million strings")
    func agreesWithReference() {
        var generator = SeededGenerator(seed: 99)
        let alphabet = Array("0123456789....:a ".utf8)
        var accepted = 0
        for round in 0..<1_000_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                // Near-addresses: four numbers of 0-4 digits, sometimes with a stray byte.
                bytes = (0..<4).flatMap { part -> [UInt8] in
                    let digits = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                        UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &generator)
                    }
                    return (part > 0 ? [UInt8(ascii: ".")] : []) + digits
                }
                if Int.random(in: 0..<8, using: &generator) == 0 {
                    bytes.insert(alphabet.randomElement(using: &generator)!, at: Int.random(in: 0...bytes.count, using: &generator))
                }
            } else {
                bytes = (0..<Int.random(in: 0...17, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            }
            let parsed = bytes.withUnsafeBytes { IPAddress.parseIPv4($0, from: 0) }
            #expect(parsed == referenceIPv4(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            if parsed != nil { accepted += 1 }
            // An address's text as the pipeline reads it (read from its end from 8 bytes on).
            let address = bytes.withUnsafeBytes { IPAddress(parsing: $0) }
            let expected =
                referenceIPv4(bytes).map { IPAddress(ipv4: $0) }
                ?? bytes.withUnsafeBytes { IPAddress.parseIPv6($0).map { IPAddress(high: $0.0, low: $0.1) } }
            #expect(address == expected, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(accepted > 10_000)
    }

    @Test("from an offset, as inside an IPv4-mapped IPv6 address")
    func fromOffset() {
        let text = Array("::ffff:203.0.113.9".utf8)
        #expect(text.withUnsafeBytes { IPAddress.parseIPv4($0, from: 7) } == 0xCB00_7109)
        #expect(IPAddress("::ffff:203.0.113.9")?.ipv4 == 0xCB00_7109)
        #expect(IPAddress("255.255.255.255")?.ipv4 == 0xFFFF_FFFF)
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(IPAddress("1.2.3.04") == nil)
    }

    @Test("read backwards from an end, a word at a time, it agrees with the reference on the run before the end")
    func trailingAgreesWithReference() {
        var generator = SeededGenerator(seed: 7)
        // Separators, a port's colon, hex, and bytes whose low seven bits are "." or a digit.
        let alphabet = Array("0123456789.....,: a".utf8) + [0xAE, 0xB5, 0x00]
        var accepted = 0
        for round in 0..<400_000 {
            var bytes: [UInt8] = (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            if round % 2 == 0 {
                // An address-like run of 0-4 digits per part at the end, sometimes with a stray byte.
                var quad = (0..<4).flatMap { part -> [UInt8] in
                    let digits = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                        UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &generator)
                    }
                    return (part > 0 ? [UInt8(ascii: ".")] : []) + digits
                }
                if Int.random(in: 0..<8, using: &generator) == 0 {
                    quad.insert(alphabet.randomElement(using: &generator)!, at: Int.random(in: 0...quad.count, using: &generator))
                }
                bytes += quad
            } else {
                bytes += (0..<Int.random(in: 0...17, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            }
            // Sometimes bytes after the end, which must not be read as part of it.
            let end = bytes.count
            if round % 3 == 0 { bytes += Array("1.2".utf8) }
            // The reference: the run of digits and dots before the end, parsed byte by byte.
            var start = end
            while start > 0, bytes[start - 1] == UInt8(ascii: ".") || bytes[start - 1] &- UInt8(ascii: "0") < 10 { start -= 1 }
            // (Fewer than eight bytes in all are left to the byte-at-a-time parse.)
            let expected = end >= 8 && (7...15).contains(end - start) ? referenceIPv4(Array(bytes[start..<end])).map { ($0, start) } : nil
            let found = bytes.withUnsafeBytes { IPAddress.trailingIPv4($0, end: end) }
            #expect(found?.value == expected?.0 && found?.start == expected?.1, "\(bytes) up to \(end)")
            if found != nil { accepted += 1 }
        }
        #expect(accepted > 3_000)
        // Ends too early for an address, or past the bytes.
        #expect(Array("1.2.3.4".utf8).withUnsafeBytes { IPAddress.trailingIPv4($0, end: 7) } == nil)
        #expect(Array("1.2.3.4".utf8).withUnsafeBytes { IPAddress.trailingIPv4($0, end: 8) } == nil)
        #expect(Array("x, 255.255.255.255".utf8).withUnsafeBytes { IPAddress.trailingIPv4($0, end: 18) }?.value == 0xFFFF_FFFF)
    }
}
