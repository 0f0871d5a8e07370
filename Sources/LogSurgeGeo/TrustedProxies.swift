import LogSurgeCore
/// A CDN whose published address ranges are embedded (`CDNRangeData.swift`, made by
/// `Scripts/build-cdn-ranges.py`; see `Scripts/CDN.md`).
public struct CDNProvider: Sendable {
    /// The name `--trusted-proxy` takes (`cloudflare`, `cloudfront`, `fastly`).
    public let name: String
    /// Where the list is published.
    public let source: String
    /// The date (YYYY-MM-DD) the embedded list reflects.
    public let published: String
    /// The ranges as CIDR text, IPv4 first.
    public let ranges: [String]
}

/// A set of address ranges (CIDR blocks), for "is this address a trusted proxy / a CDN edge".
///
/// Ranges are kept as sorted, merged 128-bit intervals (IPv4 as IPv4-mapped, as `IPAddress`
/// stores it), looked up by binary search; a bitmap of the first 16 bits (of the IPv4
/// address, or of the IPv6 address) answers most addresses outside every range with one bit
/// test, so classifying every request of a log costs almost nothing.
public struct AddressSet: Sendable, Equatable {
    private var starts: [UInt128] = []
    private var ends: [UInt128] = []
    private var ipv4Blocks: [UInt64] = Array(repeating: 0, count: 1024)
    private var ipv6Blocks: [UInt64] = Array(repeating: 0, count: 1024)
    /// The IPv4 /16 blocks that lie wholly inside one range: a CDN edge (Cloudflare's
    /// 162.158.0.0/15) is answered with one bit test too, without the search.
    private var ipv4Full: [UInt64] = Array(repeating: 0, count: 1024)

    public init() {}

    /// The set of `cidrs` (`a.b.c.d/n`, `a.b.c.d`, `x::/n`, `x::y`); nil naming the first that is not one.
    public init(cidrs: [String]) throws(AddressSetError) {
        var intervals: [(UInt128, UInt128)] = []
        for text in cidrs {
            guard let interval = Self.interval(text) else { throw AddressSetError(text: text) }
            intervals.append(interval)
        }
        self.init(intervals: intervals)
    }

    private init(intervals raw: [(UInt128, UInt128)]) {
        let sorted = raw.sorted { $0.0 < $1.0 }
        for (start, end) in sorted {
            // Touching or overlapping the last interval: extend it.
            if let last = ends.last, last == .max || start <= last + 1 {
                ends[ends.count - 1] = max(last, end)
            } else {
                starts.append(start)
                ends.append(end)
            }
        }
        for (start, end) in zip(starts, ends) {
            Self.mark(start, end, ipv4: &ipv4Blocks, ipv6: &ipv6Blocks)
            Self.markFull(start, end, ipv4: &ipv4Full)
        }
    }

    /// The union of sets.
    public static func union(_ sets: [AddressSet]) -> AddressSet {
        AddressSet(intervals: sets.flatMap { zip($0.starts, $0.ends).map { ($0, $1) } })
    }

    /// Whether the set holds no address.
    public var isEmpty: Bool { starts.isEmpty }

    /// Whether `address` lies in one of the ranges.
    @inline(__always)
    public func contains(_ address: IPAddress) -> Bool {
        let block: Int
        if address.isIPv4 {
            block = Int(truncatingIfNeeded: address.low >> 16) & 0xFFFF
            guard ipv4Blocks[block >> 6] & (1 << UInt64(block & 63)) != 0 else { return false }
            if ipv4Full[block >> 6] & (1 << UInt64(block & 63)) != 0 { return true }
        } else {
            block = Int(truncatingIfNeeded: address.high >> 48)
            guard ipv6Blocks[block >> 6] & (1 << UInt64(block & 63)) != 0 else { return false }
        }
        let value = UInt128(address.high) << 64 | UInt128(address.low)
        // The last range starting at or before the address.
        var low = 0, high = starts.count
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] <= value { low = middle + 1 } else { high = middle }
        }
        return low > 0 && value <= ends[low - 1]
    }

    /// Sets the bit of every first-16-bits block that [start, end] touches.
    private static func mark(_ start: UInt128, _ end: UInt128, ipv4: inout [UInt64], ipv6: inout [UInt64]) {
        let mappedStart: UInt128 = 0xFFFF << 32, mappedEnd: UInt128 = mappedStart | 0xFFFF_FFFF
        // The IPv4-mapped part, by the first 16 bits of the IPv4 address.
        if start <= mappedEnd, end >= mappedStart {
            let from = Int((max(start, mappedStart) - mappedStart) >> 16), to = Int((min(end, mappedEnd) - mappedStart) >> 16)
            for block in from...to { ipv4[block >> 6] |= 1 << UInt64(block & 63) }
        }
        let from = Int(start >> 112), to = Int(end >> 112)
        for block in from...to { ipv6[block >> 6] |= 1 << UInt64(block & 63) }
    }

    /// Sets the bit of every IPv4 /16 block that [start, end] covers whole (`end` inclusive).
    private static func markFull(_ start: UInt128, _ end: UInt128, ipv4: inout [UInt64]) {
        let mappedStart: UInt128 = 0xFFFF << 32, mappedEnd: UInt128 = mappedStart | 0xFFFF_FFFF
        guard start <= mappedEnd, end >= mappedStart else { return }
        let low = max(start, mappedStart) - mappedStart, high = min(end, mappedEnd) - mappedStart
        // The first block starting at or after `low`, the last ending at or before `high`.
        let first = Int((low + 0xFFFF) >> 16), through = Int((high + 1) >> 16) - 1
        guard first <= through else { return }
        for block in first...through { ipv4[block >> 6] |= 1 << UInt64(block & 63) }
    }

    /// The interval of a CIDR block or a single address.
    static func interval(_ text: String) -> (UInt128, UInt128)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.isIPv4 ? 32 : 128
        var prefix = bits
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value), parts[1].allSatisfy(\.isASCII) else { return nil }
            prefix = value
        }
        let length = address.isIPv4 ? 96 + prefix : prefix
        let value = UInt128(address.high) << 64 | UInt128(address.low)
        let hostMask: UInt128 = length == 128 ? 0 : (UInt128.max >> length)
        return (value & ~hostMask, value | hostMask)
    }
}

/// A `--trusted-proxy` value that is neither a CIDR block nor a known name.
public struct AddressSetError: Error, Sendable, CustomStringConvertible {
    public let text: String
    public var description: String { "'\(text)' is not an address or a CIDR block (a.b.c.d/n, x::/n)" }
}

/// The proxies whose word about the client is believed (`--trusted-proxy`), and the address
/// classes logsurge reports on.
public enum TrustedProxies {
    /// Loopback, RFC 1918, link-local, CGNAT (RFC 6598) and unique local (RFC 4193) addresses.
    public static let privateRanges: AddressSet = {
        do {
            return try AddressSet(cidrs: [
                "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
                "::1/128", "fc00::/7", "fe80::/10",
            ])
        } catch { preconditionFailure("the private ranges are CIDR blocks") }
    }()

    /// Every embedded CDN's ranges, by provider name.
    public static let cdnRanges: [String: AddressSet] = {
        var sets: [String: AddressSet] = [:]
        for provider in CDNProvider.embedded {
            do { sets[provider.name] = try AddressSet(cidrs: provider.ranges) } catch {
                preconditionFailure("\(provider.name): an embedded CDN range does not parse: \(error)")
            }
        }
        return sets
    }()

    /// All embedded CDNs at once.
    public static let allCDNs = AddressSet.union(Array(cdnRanges.values))

    /// Private addresses and every embedded CDN: the default trust of `--real-ip`, and what the
    /// `clients_behind_proxy` warning counts.
    public static let proxyLike = AddressSet.union([privateRanges, allCDNs])

    /// The names `--trusted-proxy` takes besides CIDR blocks.
    public static var names: [String] { ["private", "cdn"] + CDNProvider.embedded.map(\.name) }

    /// The set `values` name (`--trusted-proxy`, repeatable): CIDR blocks, addresses, and names.
    public static func set(_ values: [String]) throws(AddressSetError) -> AddressSet {
        var sets: [AddressSet] = []
        var cidrs: [String] = []
        for value in values {
            switch value.lowercased() {
            case "private": sets.append(privateRanges)
            case "cdn": sets.append(allCDNs)
            case let name where cdnRanges[name] != nil: sets.append(cdnRanges[name]!)
            default: cidrs.append(value)
            }
        }
        sets.append(try AddressSet(cidrs: cidrs))
        return AddressSet.union(sets)
    }
}

/// Where a request's client address came from.
public enum ClientSource: Int, Sendable, CaseIterable {
    /// The connecting address the server logged.
    case connecting
    /// An address of the forwarded chain (`--real-ip`).
    case forwarded
    /// Neither: no connecting address logged, and no usable address in the chain.
    case none
}

/// Finds the real client in an address chain, as nginx's realip module does with
/// `real_ip_recursive on`, and Apache's mod_remoteip.
///
/// The chain (the header's addresses, then the connecting address when the format logs one) is
/// walked from the right: a trusted proxy is passed over, the first untrusted address is the
/// client, and when every address is trusted the leftmost is. An entry that is not an address
/// ends the walk there: the client is the last address accepted (the connecting address when
/// it is the first entry). Entries are separated by commas and spaces (and tabs, quotes, which
/// appear when the header is logged inside JSON, and `+`, which IIS writes for a space); an entry may carry a port
/// (`1.2.3.4:80`, `[2001:db8::1]:443`), as nginx accepts; `unknown`, host names, brackets
/// without a port and anything else are not addresses. For `Forwarded` (RFC 7239) the entries
/// are its elements and the address that of their `for=` parameter (quoted or not, with
/// brackets and port as the RFC writes them; `unknown` and `_hidden` are not addresses).
public struct ForwardedChain: Sendable {
    public let trusted: AddressSet
    /// RFC 7239 `Forwarded` elements instead of comma-separated addresses.
    public let rfc7239: Bool
    /// At most this many entries are examined, so a hostile header costs a bounded walk.
    public static let maximumEntries = 64

    public init(trusted: AddressSet, rfc7239: Bool = false) {
        self.trusted = trusted
        self.rfc7239 = rfc7239
    }

    /// The client of a request whose header holds `chain` (nil: not logged, or `-`) and whose
    /// connecting address is `connecting` (nil: the format logs none, or it is not an address).
    /// `connectingTrusted`, when given, is whether `trusted` holds `connecting` (a caller that
    /// classified it already saves the lookup).
    public func client(
        chain: UnsafeRawBufferPointer?, connecting: IPAddress?, connectingLogged: Bool,
        connectingTrusted: Bool? = nil
    ) -> (IPAddress?, ClientSource) {
        let walked = walk(chain: chain, connecting: connecting, connectingLogged: connectingLogged, connectingTrusted: connectingTrusted)
        return (walked.client, walked.source)
    }

    /// `client(…)`, and whether the walk stopped at a chain entry that `trusted` does not hold
    /// (so a caller asking "is the client a trusted proxy?" has the answer: no).
    public func walk(
        chain: UnsafeRawBufferPointer?, connecting: IPAddress?, connectingLogged: Bool,
        connectingTrusted: Bool? = nil
    ) -> (client: IPAddress?, source: ClientSource, stoppedUntrusted: Bool) {
        var client = connecting
        var source = ClientSource.connecting
        if connectingLogged {
            // An untrusted (or unreadable) connecting address is the client, whatever the header says.
            guard let connecting, connectingTrusted ?? trusted.contains(connecting) else { return (connecting, .connecting, false) }
        }
        guard let chain, chain.count > 0 else { return (client, connectingLogged ? .connecting : .none, false) }
        var end = chain.count
        var examined = 0
        while examined < Self.maximumEntries {
            // In bounds: end - 1 >= 0 is checked first.
            while end > 0, Self.isSeparator(chain[end - 1], rfc7239: rfc7239) { end -= 1 }
            if end == 0 { break }
            examined += 1
            // The common entry, a dotted quad after a separator, is found and read at once.
            let (address, start): (IPAddress?, Int)
            if !rfc7239, let (quad, quadStart) = IPAddress.trailingIPv4(chain, end: end),
                quadStart == 0 || Self.isSeparator(chain[quadStart - 1], rfc7239: false)
            {
                (address, start) = (IPAddress(ipv4: quad), quadStart)
            } else {
                (address, start) = entry(endingAt: end, in: chain)
            }
            guard let address else { break }
            client = address
            source = .forwarded
            if !trusted.contains(address) { return (client, source, true) }
            end = start
        }
        return (client, client == nil && !connectingLogged ? .none : source, false)
    }

    /// The entry of `chain` that ends at `end` (a separator or nothing after it), as an address,
    /// and where it starts.
    private func entry(endingAt end: Int, in chain: UnsafeRawBufferPointer) -> (IPAddress?, Int) {
        var start = end
        // In a `Forwarded` element a comma inside a quoted string does not end it: the quotes
        // seen since the element's end are counted as the scan goes (one pass).
        if rfc7239 {
            var quotes = 0
            // In bounds: start - 1 >= 0 is checked first.
            while start > 0 {
                let byte = chain[start - 1]
                if byte == 0x22 { quotes += 1 }
                if byte == 0x2C, quotes & 1 == 0 { break }
                start -= 1
            }
        } else {
            // In bounds: start - 1 >= 0 is checked first.
            while start > 0, !Self.isSeparator(chain[start - 1], rfc7239: false) { start -= 1 }
        }
        let entry = UnsafeRawBufferPointer(rebasing: chain[start..<end])
        return (rfc7239 ? Self.forwardedFor(entry) : Self.address(entry), start)
    }

    /// `,` space tab `"` `+` as bits of the byte value (all below 64).
    private static let separators: UInt64 = 1 << 0x2C | 1 << 0x20 | 1 << 0x09 | 1 << 0x22 | 1 << 0x2B

    @inline(__always)
    private static func isSeparator(_ byte: UInt8, rfc7239: Bool) -> Bool {
        rfc7239 ? byte == 0x2C : byte < 64 && (separators >> UInt64(byte)) & 1 != 0
    }

    /// An entry as nginx's `ngx_parse_addr_port` reads it: an address, `a.b.c.d:port`, or
    /// `[v6]:port` with a port of 1–65535. Also how a logged client with its port is read
    /// (Caddy 2.4's `remote_addr`, Traefik's `ClientAddr`).
    public static func address(_ entry: UnsafeRawBufferPointer) -> IPAddress? {
        if let address = IPAddress(parsing: entry) { return address }
        let count = entry.count
        guard count > 0 else { return nil }
        var host: Range<Int>
        var portStart: Int
        if entry[0] == 0x5B {  // [
            guard let close = entry.firstIndex(of: 0x5D), close + 1 < count, entry[close + 1] == 0x3A else { return nil }
            host = 1..<close
            portStart = close + 2
        } else {
            guard let colon = entry.firstIndex(of: 0x3A) else { return nil }
            host = 0..<colon
            portStart = colon + 1
        }
        guard isPort(UnsafeRawBufferPointer(rebasing: entry[portStart...])) else { return nil }
        return IPAddress(parsing: UnsafeRawBufferPointer(rebasing: entry[host]))
    }

    /// A quote as logs escape it: Apache and JSON `\"`, nginx `\x22`.
    private static let escapedQuotes: [[UInt8]] = [Array(#"\""#.utf8), Array(#"\x22"#.utf8), Array(#"\X22"#.utf8)]

    /// The address of a `Forwarded` element's `for=` parameter.
    static func forwardedFor(_ element: UnsafeRawBufferPointer) -> IPAddress? {
        var index = 0
        var count = element.count
        // An element that is a JSON string of its own (Caddy logs a header sent on several lines
        // as an array: `"for=192.0.2.1","for=198.51.100.2"`): an element never starts with `"`.
        while index < count, element[index] == 0x20 || element[index] == 0x09 { index += 1 }
        if count - index >= 2, element[index] == 0x22, element[count - 1] == 0x22 {
            index += 1
            count -= 1
        }
        while index < count {
            // One `name=value` pair, up to `;` (outside quotes).
            while index < count, element[index] == 0x20 || element[index] == 0x09 { index += 1 }
            let nameStart = index
            while index < count, element[index] != 0x3D, element[index] != 0x3B { index += 1 }
            let name = UnsafeRawBufferPointer(rebasing: element[nameStart..<index])
            guard index < count, element[index] == 0x3D else {
                index += 1
                continue
            }
            index += 1
            var valueStart = index, valueEnd: Int
            if index < count, element[index] == 0x22 {
                valueStart = index + 1
                guard let close = element[valueStart..<count].firstIndex(of: 0x22) else { return nil }
                valueEnd = close
                index = close + 1
            } else {
                while index < count, element[index] != 0x3B { index += 1 }
                valueEnd = index
                while valueEnd > valueStart, element[valueEnd - 1] == 0x20 || element[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                // The quotes of a quoted value as a log escapes them: `\"` (Apache, JSON) or
                // `\x22` (nginx), around the value.
                for quote in Self.escapedQuotes {
                    let value = element[valueStart..<valueEnd]
                    if value.count >= 2 * quote.count, value.starts(with: quote), value.reversed().starts(with: quote.reversed()) {
                        valueStart += quote.count
                        valueEnd -= quote.count
                        break
                    }
                }
            }
            while index < count, element[index] != 0x3B { index += 1 }
            index += 1
            guard name.count == 3, name[0] | 0x20 == 0x66, name[1] | 0x20 == 0x6F, name[2] | 0x20 == 0x72 else { continue }
            let value = UnsafeRawBufferPointer(rebasing: element[valueStart..<valueEnd])
            if let address = IPAddress(parsing: value) { return address }
            // `[v6]`, `[v6]:port`, `v4:port` (the port may be obfuscated: `_abc`).
            if value.first == 0x5B {
                guard let close = value.firstIndex(of: 0x5D) else { return nil }
                guard close + 1 == value.count || value[close + 1] == 0x3A else { return nil }
                return IPAddress(parsing: UnsafeRawBufferPointer(rebasing: value[1..<close]))
            }
            guard let colon = value.firstIndex(of: 0x3A) else { return nil }
            return IPAddress(parsing: UnsafeRawBufferPointer(rebasing: value[..<colon]))
        }
        return nil
    }

    private static func isPort(_ text: UnsafeRawBufferPointer) -> Bool {
        guard (1...5).contains(text.count), text.allSatisfy({ $0 &- 0x30 < 10 }) else { return false }
        let value = text.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return (1...65535).contains(value)
    }
}

extension CountryCode {
    /// The code of a country header's value when it is an officially assigned ISO 3166-1
    /// alpha-2 code (or `XK`, Kosovo, which CDNs and MaxMind use); nil for anything else:
    /// `XX` (Cloudflare: unknown), `T1` (Tor), `-`, an empty value, lower case.
    public init?(assigned text: UnsafeRawBufferPointer) {
        guard text.count == 2 else { return nil }
        let first = text[0], second = text[1]
        guard first &- 0x41 < 26, second &- 0x41 < 26 else { return nil }
        let index = Int(first - 0x41) * 26 + Int(second - 0x41)
        guard Self.assignedCodes[index >> 6] & (1 << UInt64(index & 63)) != 0 else { return nil }
        self.init(rawValue: UInt16(first) << 8 | UInt16(second))
    }

    /// The officially assigned ISO 3166-1 alpha-2 codes (249), and `XK`.
    static let assignedList = """
        AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
        CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
        GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP \
        KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT \
        MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
        SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ \
        UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK
        """

    private static let assignedCodes: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 11)
        for code in assignedList.split(separator: " ") {
            let bytes = Array(code.utf8)
            let index = Int(bytes[0] - 0x41) * 26 + Int(bytes[1] - 0x41)
            bits[index >> 6] |= 1 << UInt64(index & 63)
        }
        return bits
    }()
}
