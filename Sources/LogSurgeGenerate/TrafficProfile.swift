/// Who visits a synthetic site: countries with their share of traffic, time zone and addresses.
///
/// Address ranges were checked against the embedded country database (IPFire Location data),
/// so generated clients resolve to the country they were generated for; a test keeps it so.
public struct TrafficProfile: Sendable {
    public struct Country: Sendable {
        /// ISO 3166-1 alpha-2 code.
        public var code: String
        /// Share of the site's traffic (relative weight; the profile normalises).
        public var share: Double
        /// Hours from UTC of where most of its visitors live: drives the daily rhythm.
        public var utcOffsetHours: Double
        /// IPv4 networks as (address, prefix length).
        public var ipv4: [(address: UInt32, prefix: Int)]
        /// IPv6 networks as (upper 64 bits, prefix length ≤ 64).
        public var ipv6: [(high: UInt64, prefix: Int)]
    }

    public var countries: [Country]
    /// Share of clients that connect over IPv6 where their country has IPv6 ranges.
    public var ipv6Share: Double = 0.2

    /// Visitors of a national immigration site: mostly domestic (Canada), then the US and the
    /// countries that send most applicants.
    public static let immigrationSite = TrafficProfile(countries: [
        Country(
            code: "CA", share: 0.42, utcOffsetHours: -5, ipv4: [(v4(99, 224), 12), (v4(142, 112), 14), (v4(70, 48), 14)],
            ipv6: [(0x2607_FEA8_0000_0000, 32)]),
        Country(
            code: "US", share: 0.10, utcOffsetHours: -6, ipv4: [(v4(73, 0), 11), (v4(98, 192), 12), (v4(24, 0), 13), (v4(174, 192), 12)],
            ipv6: [(0x2601_0000_0000_0000, 20), (0x2600_1700_0000_0000, 28)]),
        Country(
            code: "IN", share: 0.12, utcOffsetHours: 5.5, ipv4: [(v4(117, 192), 10), (v4(106, 192), 11), (v4(49, 32), 12)],
            ipv6: [(0x2409_4000_0000_0000, 22)]),
        Country(code: "PH", share: 0.05, utcOffsetHours: 8, ipv4: [(v4(112, 200), 13), (v4(49, 144), 13)], ipv6: []),
        Country(code: "CN", share: 0.05, utcOffsetHours: 8, ipv4: [(v4(36, 96), 11), (v4(183, 0), 12), (v4(222, 16), 13)], ipv6: []),
        Country(
            code: "GB", share: 0.04, utcOffsetHours: 0, ipv4: [(v4(86, 128), 11), (v4(81, 96), 13), (v4(90, 192), 12)],
            ipv6: [(0x2A00_23C0_0000_0000, 28)]),
        Country(code: "NG", share: 0.03, utcOffsetHours: 1, ipv4: [(v4(105, 112), 12), (v4(102, 88), 13)], ipv6: []),
        Country(code: "MX", share: 0.03, utcOffsetHours: -6, ipv4: [(v4(189, 128), 11), (v4(187, 128), 13)], ipv6: []),
        Country(code: "FR", share: 0.03, utcOffsetHours: 1, ipv4: [(v4(176, 128), 10), (v4(86, 192), 11)], ipv6: []),
        Country(code: "PK", share: 0.02, utcOffsetHours: 5, ipv4: [(v4(39, 32), 11), (v4(182, 176), 12)], ipv6: []),
        Country(code: "IR", share: 0.02, utcOffsetHours: 3.5, ipv4: [(v4(5, 112), 12), (v4(2, 176), 12)], ipv6: []),
        Country(code: "BR", share: 0.015, utcOffsetHours: -3, ipv4: [(v4(179, 72), 13), (v4(191, 176), 12)], ipv6: []),
        Country(
            code: "DE", share: 0.015, utcOffsetHours: 1, ipv4: [(v4(91, 0), 12), (v4(93, 192), 10)], ipv6: [(0x2A02_8100_0000_0000, 27)]),
        Country(
            code: "VN", share: 0.01, utcOffsetHours: 7, ipv4: [(v4(171, 224), 11), (v4(113, 160), 11)], ipv6: [(0x2402_0800_0000_0000, 32)]),
        Country(code: "KR", share: 0.01, utcOffsetHours: 9, ipv4: [(v4(175, 192), 10), (v4(121, 128), 10)], ipv6: []),
        Country(code: "CO", share: 0.01, utcOffsetHours: -5, ipv4: [(v4(181, 128), 11)], ipv6: []),
        Country(
            code: "JP", share: 0.008, utcOffsetHours: 9, ipv4: [(v4(153, 128), 10), (v4(60, 64), 11)], ipv6: [(0x240D_001A_0000_0000, 32)]),
        Country(
            code: "AU", share: 0.008, utcOffsetHours: 10, ipv4: [(v4(1, 120), 13), (v4(49, 176), 12)], ipv6: [(0x2001_44B8_0000_0000, 32)]),
        Country(code: "ES", share: 0.006, utcOffsetHours: 1, ipv4: [(v4(88, 0), 11), (v4(83, 32), 11)], ipv6: []),
        Country(code: "UA", share: 0.006, utcOffsetHours: 2, ipv4: [(v4(176, 36), 14), (v4(37, 52), 14)], ipv6: []),
        Country(code: "NZ", share: 0.004, utcOffsetHours: 12, ipv4: [(v4(122, 56), 13), (v4(222, 152), 14)], ipv6: []),
    ])

    private static func v4(_ a: UInt32, _ b: UInt32) -> UInt32 { a << 24 | b << 16 }
}
