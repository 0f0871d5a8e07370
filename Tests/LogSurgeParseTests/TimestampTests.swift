import LogSurgeParse
import Testing

@Suite("Timestamps")
struct TimestampTests {
    static let zones = ["-1200", "-0700", "-0100", "+0000", "+0530", "+0545", "+1400", "-0930", "+1245"]
    static let localTimes: [LocalTime] = [
        (10, 10, 2000, 13, 55, 36), (31, 12, 2016, 23, 59, 59), (1, 1, 2017, 0, 0, 0), (29, 2, 2016, 22, 30, 0),
        (1, 3, 2016, 3, 15, 60), (28, 2, 2100, 12, 0, 0), (1, 1, 1970, 0, 5, 0), (9, 11, 2016, 2, 31, 7),
        (31, 12, 1999, 23, 0, 0), (15, 6, 2038, 18, 45, 12),
    ]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    typealias LocalTime = (day: Int, month: Int, year: Int, hour: Int, minute: Int, second: Int)

    static func text(_ t: LocalTime, _ offset: String) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(t.day))/\(monthNames[t.month - 1])/\(t.year):\(two(t.hour)):\(two(t.minute)):\(two(t.second)) \(offset)"
    }

    @Test("Every offset lands in the UTC minute Foundation computes", arguments: zones)
    func offsets(_ offset: String) throws {
        let sign = offset.hasPrefix("-") ? -1 : 1
        let digits = Array(offset.dropFirst()).compactMap { $0.wholeNumberValue }
        let offsetMinutes = sign * (digits[0] * 600 + digits[1] * 60 + digits[2] * 10 + digits[3])
        var parser = AccessLogParser(format: .combined)
        for local in Self.localTimes {
            // Foundation has no leap seconds; second 60 is in the same minute as second 59.
            let expected = try #require(
                foundationMinute(
                    year: local.year, month: local.month, day: local.day, hour: local.hour, minute: local.minute,
                    second: min(local.second, 59), offsetMinutes: offsetMinutes))
            let line = Array(combinedLine(time: Self.text(local, offset)).utf8)
            #expect(outcome(line, with: &parser).fields?.minute == expected, "\(Self.text(local, offset))")
        }
    }

    @Test(
        "Day, month and year roll over across the offset",
        arguments: [
            ("31/Dec/2016:23:59:59 -0100", "2017-01-01T00:59Z"),
            ("01/Jan/2017:00:30:00 +0100", "2016-12-31T23:30Z"),
            ("01/Mar/2016:00:10:00 +0530", "2016-02-29T18:40Z"),
            ("28/Feb/2017:23:00:00 -0200", "2017-03-01T01:00Z"),
            ("28/Feb/2016:23:00:00 -0200", "2016-02-29T01:00Z"),
            ("31/Oct/2016:22:00:00 -1200", "2016-11-01T10:00Z"),
            ("01/Jan/1970:00:00:00 +1400", "1969-12-31T10:00Z"),
            ("29/Feb/2000:12:00:00 +0000", "2000-02-29T12:00Z"),
            ("10/oct/2000:13:55:36 -0700", "2000-10-10T20:55Z"),
            ("10/OCT/2000:13:55:36 -0700", "2000-10-10T20:55Z"),
            ("31/Dec/3999:23:59:59 +0000", "3999-12-31T23:59Z"),
            ("01/Jan/4000:00:30:00 +0100", "3999-12-31T23:30Z"),
            ("01/Jan/0001:00:00:00 +0000", "0001-01-01T00:00Z"),
            ("01/Jan/0000:00:00:00 +0000", "0000-01-01T00:00Z"),
        ])
    func rollover(_ time: String, _ expected: String) {
        #expect(outcome(combinedLine(time: time), .combined).fields?.minute == expected)
    }

    @Test(
        "Impossible dates, times and offsets are bad_timestamp",
        arguments: [
            "31/Feb/2016:10:00:00 +0000", "29/Feb/2017:10:00:00 +0000", "29/Feb/1900:10:00:00 +0000",
            "31/Apr/2016:10:00:00 +0000", "00/Jan/2016:10:00:00 +0000", "32/Jan/2016:10:00:00 +0000",
            "10/Foo/2016:10:00:00 +0000", "10/Oct/2016:24:00:00 +0000", "10/Oct/2016:23:60:00 +0000",
            "10/Oct/2016:23:59:61 +0000", "10/Oct/2016:23:59:99 +0000", "1/Oct/2016:10:00:00 +0000",
            "10/Oct/16:10:00:00 +0000", "10/Oct/2016:10:00:00 0000", "10/Oct/2016:10:00:00 +2400",
            "10/Oct/2016:10:00:00 +0560", "10/Oct/2016:10:00:00 +1401", "10/Oct/2016:10:00:00 -1500",
            "10/Oct/2016:10:00:00", "10/Oct/2016 10:00:00 +0000", "10-Oct-2016:10:00:00 +0000",
            "10/Oct/2016:10:00:00 +00:00", "23/Jan/6053:02:08:00 +0000", "31/Dec/9999:23:59:59 +0000",
            // Real dates outside the years 0000-3999 (`UTCMinute.supported`), in UTC.
            "23/Jan/6053:02:07:00 +0000", "01/Jan/4000:00:00:00 +0000", "31/Dec/3999:23:59:00 -0001",
            "01/Jan/0000:00:00:00 +0001",
            "10/Oct/2016T10:00:00 +0000", "1O/Oct/2016:10:00:00 +0000",
            "10/Oct/2016:10:00:0a +0000", "10/Oct/2016:10:00:00 +000a", "", "-",
        ])
    func invalid(_ time: String) {
        #expect(outcome(combinedLine(time: time), .combined) == .malformed(.badTimestamp))
    }

    @Test("Second 60 (a leap second) is accepted")
    func leapSecond() {
        let line = combinedLine(time: "31/Dec/2016:23:59:60 +0000")
        #expect(outcome(line, .combined).fields?.minute == "2016-12-31T23:59Z")
    }

    @Test("The cache never returns a stale minute: alternating minutes, zones and invalid lines")
    func cacheAlternation() {
        let sequence = [
            "10/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:55:37 -0700", "10/Oct/2000:13:55:36 +0000",
            "10/Oct/2000:13:55:36 -0700", "10/Oct/2000:13:56:00 -0700", "10/Oct/2000:13:55:59 -0700",
            "10/Oct/2000:13:55:59 -0700", "11/Oct/2000:13:55:59 -0700", "10/Nov/2000:13:55:59 -0700",
            "10/Oct/2001:13:55:59 -0700", "10/Oct/2000:13:55:59 -0701", "10/Oct/2000:13:55:59 +0700",
            "10/Oct/2000:13:55:61 -0700", "10/Oct/2000:13:55:6x -0700", "10/Oct/2000:13:55:00 -0700",
            "31/Feb/2000:13:55:00 -0700", "31/Jan/2000:13:55:00 -0700", "10/oct/2000:13:55:36 -0700",
            "10/Oct/2000:13:55:36 -0700", "10/Oct/2000:23:55:36 -0700", "10/Oct/2000:13:55:36 -0700",
        ]
        var warm = AccessLogParser(format: .common)
        for _ in 0..<2 {
            for time in sequence {
                let line = Array(commonLine(time: time).utf8)
                var fresh = AccessLogParser(format: .common)
                #expect(outcome(line, with: &warm) == outcome(line, with: &fresh), "\(time)")
            }
        }
        // Fresh parsers start with a seeded cache entry; it must not leak into a hostile line.
        #expect(outcome(commonLine(time: "01/Jan/1970:00:00:99 +0000"), .common) == .malformed(.badTimestamp))
        #expect(outcome(commonLine(time: "01/Jan/1970:00:00:00 +0000"), .common).fields?.minute == "1970-01-01T00:00Z")
    }
}
