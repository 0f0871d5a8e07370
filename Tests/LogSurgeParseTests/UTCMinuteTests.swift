import LogSurgeTestSupport
import Foundation
import LogSurgeParse
import Testing
import LogSurgeCore

@Suite("UTC minutes")
struct UTCMinuteTests {
    /// Wall-clock seconds as RFC 3339 (Alertmanager's times) and as a minute and its second
    /// (the live page), before 1970 included.
    @Test func secondsAreWrittenToTheSecond() {
        #expect(UTCMinute.format(seconds: 1_478_658_667.9) == "2016-11-09T02:31:07Z")
        #expect(UTCMinute.format(seconds: 0) == "1970-01-01T00:00:00Z")
        #expect(UTCMinute.format(seconds: -1) == "1969-12-31T23:59:59Z")
        #expect(UTCMinute.split(seconds: -61).minute == -2 && UTCMinute.split(seconds: -61).second == 59)
    }

    @Test(
        "format and parse agree with Foundation and round-trip, 1970–2100",
        arguments: Array(stride(from: 1970, through: 2100, by: 10)))
    func roundTrip(decade: Int) throws {
        var random = SeededGenerator(seed: UInt64(decade))
        let start = try #require(UTCMinute.minute(year: decade, month: 1, day: 1, hour: 0, minute: 0))
        let end = try #require(UTCMinute.minute(year: min(decade + 10, 2101), month: 1, day: 1, hour: 0, minute: 0))
        // Decade boundaries, each year's first and last minute, and random minutes in between.
        var minutes: [Int32] = [start, end - 1]
        for year in decade..<min(decade + 10, 2101) {
            let first = try #require(UTCMinute.minute(year: year, month: 1, day: 1, hour: 0, minute: 0))
            minutes += [first, first - 1, first + 59 * 1440 + 1439]  // 1 Mar or 29 Feb, 23:59
        }
        minutes += (0..<300).map { _ in Int32.random(in: start..<end, using: &random) }
        for minute in minutes {
            let text = UTCMinute.format(minute)
            #expect(text == foundationFormat(Date(timeIntervalSince1970: TimeInterval(minute) * 60)))
            #expect(UTCMinute.parse(text) == minute, "\(text)")
        }
    }

    @Test(
        "minute(year:month:day:hour:minute:) matches Foundation on valid dates and rejects impossible ones",
        arguments: [
            (2016, 2, 29, 12, 0, true), (2017, 2, 29, 12, 0, false), (2000, 2, 29, 0, 0, true),
            (1900, 2, 29, 0, 0, false), (2100, 2, 29, 0, 0, false), (2016, 4, 31, 0, 0, false),
            (2016, 12, 31, 23, 59, true), (2016, 13, 1, 0, 0, false), (2016, 0, 1, 0, 0, false),
            (2016, 1, 0, 0, 0, false), (2016, 1, 1, 24, 0, false), (2016, 1, 1, 0, 60, false),
            (2016, 1, 1, -1, 0, false), (1969, 12, 31, 23, 59, true), (1601, 1, 1, 0, 0, true),
            (9999, 1, 1, 0, 0, false),  // beyond Int32 minutes
        ])
    func validation(year: Int, month: Int, day: Int, hour: Int, minute: Int, valid: Bool) {
        let result = UTCMinute.minute(year: year, month: month, day: day, hour: hour, minute: minute)
        if valid {
            let expected = foundationMinute(
                year: year, month: month, day: day, hour: hour, minute: minute, offsetMinutes: 0)
            #expect(expected != nil)
            #expect(result.map(UTCMinute.format) == expected)
        } else {
            #expect(result == nil)
        }
    }

    @Test("a minute's text written over the last one's (its time only, the same day) is the minute's text")
    func textOverThePrevious() {
        var random = SeededGenerator(seed: 21)
        var text: [UInt8] = []
        var previous: Int32?
        // Across days, years, 1970 and year 0, with steps of a minute to a few days.
        for start: Int32 in [-1_000_000_000, -1_440 * 3, 0, 24_566_400, Int32.max - 20_000_000] {
            var minute = start
            for _ in 0..<3_000 {
                UTCMinute.utf8(minute, into: &text, replacing: previous)
                #expect(text == UTCMinute.utf8(minute), "\(minute) after \(previous.map(String.init) ?? "none")")
                previous = minute
                minute += Int32.random(in: 1...(Bool.random(using: &random) ? 3 : 4_000), using: &random)
            }
        }
    }

    @Test("Known values")
    func known() {
        #expect(UTCMinute.format(0) == "1970-01-01T00:00Z")
        #expect(UTCMinute.format(-1) == "1969-12-31T23:59Z")
        #expect(UTCMinute.parse("2016-11-09T02:31Z") == 24_644_311)
        #expect(UTCMinute.format(24_644_311) == "2016-11-09T02:31Z")
        #expect(UTCMinute.format(Int32.max) == "6053-01-23T02:07Z")
        for extreme in [UTCMinute.supported.lowerBound, UTCMinute.supported.upperBound, -1_000_000_000, 1_000_000_000] {
            #expect(UTCMinute.parse(UTCMinute.format(extreme)) == extreme, "\(UTCMinute.format(extreme))")
        }
        // Written, but not a time a log may give: parse refuses them as a log's time is refused.
        for outside in [Int32.max, Int32.min, UTCMinute.supported.lowerBound - 1, UTCMinute.supported.upperBound + 1] {
            #expect(UTCMinute.parse(UTCMinute.format(outside)) == nil, "\(UTCMinute.format(outside))")
        }
    }

    @Test("the supported minutes are the years 0000 to 3999, and any two are a difference in Int32 with room to spare")
    func supported() {
        #expect(UTCMinute.format(UTCMinute.supported.lowerBound) == "0000-01-01T00:00Z")
        #expect(UTCMinute.format(UTCMinute.supported.upperBound) == "3999-12-31T23:59Z")
        #expect(UTCMinute.minute(year: 0, month: 1, day: 1, hour: 0, minute: 0) == UTCMinute.supported.lowerBound)
        #expect(UTCMinute.minute(year: 3999, month: 12, day: 31, hour: 23, minute: 59) == UTCMinute.supported.upperBound)
        #expect(UTCMinute.minute(year: 4000, month: 1, day: 1, hour: 0, minute: 0) == nil)
        #expect(UTCMinute.minute(year: -1, month: 12, day: 31, hour: 23, minute: 59) == nil)
        let span = Int(UTCMinute.supported.upperBound) - Int(UTCMinute.supported.lowerBound)
        // The widest span, plus a year's history either side (the detectors' windows), fits.
        #expect(span + 2 * 366 * 1_440 < Int(Int32.max))
        for minute in [
            Int(Int32.min), Int(UTCMinute.supported.lowerBound) - 1, Int(UTCMinute.supported.upperBound) + 1, Int(Int32.max) + 1,
        ] {
            #expect(UTCMinute.checked(minute) == nil, "\(minute)")
        }
        for minute in [UTCMinute.supported.lowerBound, 0, UTCMinute.supported.upperBound] {
            #expect(UTCMinute.checked(Int(minute)) == minute)
        }
    }

    @Test(
        "parse rejects other shapes",
        arguments: [
            "", "2016-11-09T02:31", "2016-11-09 02:31Z", "2016-11-09T02:31:00Z", "16-11-09T02:31Z",
            "2016-11-9T02:31Z", "2016-02-30T00:00Z", "2016-11-09T24:00Z", "2016-11-09T02:60Z", "2016-11-09T0a:31Z",
            "２016-11-09T02:31Z", "+2016-11-09T02:31Z", "2016-11-09T02:31z",
        ])
    func rejects(_ text: String) {
        #expect(UTCMinute.parse(text) == nil)
    }
}
