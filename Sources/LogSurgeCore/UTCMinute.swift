/// Converts between minutes since 1970-01-01T00:00Z and the text `YYYY-MM-DDTHH:MMZ`.
///
/// Uses days-from-civil arithmetic on the proleptic Gregorian calendar (Howard Hinnant's
/// algorithms), so it needs no Foundation and no time-zone database.
public enum UTCMinute {
    /// Formats a minute as `YYYY-MM-DDTHH:MMZ`, such as `2016-11-09T02:31Z`.
    ///
    /// Years before 1 CE (only reachable far below 1970) are written with a leading `-`
    /// and four digits of the absolute year, e.g. `-0001-12-31T00:00Z` (astronomical numbering).
    public static func format(_ minute: Int32) -> String {
        String(decoding: utf8(minute), as: UTF8.self)
    }

    /// Seconds since 1970 (a wall-clock time) as its UTC minute and the second within it.
    public static func split(seconds: Double) -> (minute: Int32, second: Int) {
        let whole = Int(seconds.rounded(.down))
        let minute = Int32(clamping: whole >= 0 ? whole / 60 : (whole - 59) / 60)
        return (minute, whole - Int(minute) * 60)
    }

    /// Seconds since 1970 as RFC 3339 in UTC, to the second: `2016-11-09T02:31:07Z`.
    public static func format(seconds: Double) -> String {
        let (minute, second) = split(seconds: seconds)
        return String(format(minute).dropLast()) + ":" + (second < 10 ? "0" : "") + String(second) + "Z"
    }

    /// The bytes of `format(minute)`, for writers that put bytes together (no String made).
    public static func utf8(_ minute: Int32) -> [UInt8] {
        var text = [UInt8]()
        utf8(minute, into: &text)
        return text
    }

    /// The same into `text`, replacing what it held (a writer of a row a minute reuses one).
    public static func utf8(_ minute: Int32, into text: inout [UInt8]) {
        let total = Int(minute)
        let days = floorDiv(total, 1440)
        let minuteOfDay = total - days * 1440
        let (year, month, day) = civil(fromDays: days)
        text.removeAll(keepingCapacity: true)
        text.reserveCapacity(18)
        if year < 0 { text.append(UInt8(ascii: "-")) }
        appendDigits(abs(year), width: 4, to: &text)
        text.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: &text)
        text.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: &text)
        text.append(UInt8(ascii: "T"))
        appendDigits(minuteOfDay / 60, width: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        appendDigits(minuteOfDay % 60, width: 2, to: &text)
        text.append(UInt8(ascii: "Z"))
    }

    /// The same into `text`, which holds `previous`'s text: of the same day, only the time is
    /// written (a writer of rows by minute meets a new day once in 1,440 minutes, and finding
    /// the date was most of the text's cost).
    public static func utf8(_ minute: Int32, into text: inout [UInt8], replacing previous: Int32?) {
        let days = floorDiv(Int(minute), 1440)
        guard let previous, floorDiv(Int(previous), 1440) == days, text.count >= 6 else {
            utf8(minute, into: &text)
            return
        }
        let minuteOfDay = Int(minute) - days * 1440
        let (hour, minutes) = (minuteOfDay / 60, minuteOfDay % 60)
        text.withUnsafeMutableBufferPointer { text in
            let end = text.count
            text[end - 6] = UInt8(ascii: "0") + UInt8(hour / 10)
            text[end - 5] = UInt8(ascii: "0") + UInt8(hour % 10)
            text[end - 3] = UInt8(ascii: "0") + UInt8(minutes / 10)
            text[end - 2] = UInt8(ascii: "0") + UInt8(minutes % 10)
        }
    }

    /// Parses `YYYY-MM-DDTHH:MMZ` (as written by `format(_:)`) back to minutes since the epoch.
    ///
    /// Returns `nil` for any other shape, an impossible date or time, or a minute outside
    /// `supported` (so of `format(_:)`'s negative years only `-0000` comes back).
    public static func parse(_ text: String) -> Int32? {
        var utf8 = Array(text.utf8)
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8.removeFirst()
        }
        guard utf8.count == 17,
            utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-"),
            utf8[10] == UInt8(ascii: "T"), utf8[13] == UInt8(ascii: ":"),
            utf8[16] == UInt8(ascii: "Z"),
            let year = number(utf8[0..<4]), let month = number(utf8[5..<7]),
            let day = number(utf8[8..<10]), let hour = number(utf8[11..<13]),
            let minute = number(utf8[14..<16])
        else { return nil }
        return Self.minute(
            year: negative ? -year : year, month: month, day: day, hour: hour, minute: minute)
    }

    /// The minute since the epoch of a UTC calendar date and time, or `nil` if it is not real.
    ///
    /// Validates every part: month 1...12, day within that month (29 February only in leap
    /// years), hour 0...23, minute 0...59, and a result in `supported` (the years 0000 to 3999).
    public static func minute(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> Int32? {
        localMinute(year: year, month: month, day: day, hour: hour, minute: minute).flatMap(checked)
    }

    /// The same validated, but not yet checked against `supported`: a time written in a zone
    /// east or west of UTC is checked once its offset is taken off (4000-01-01T00:30+01:00
    /// is 3999-12-31T23:30Z).
    public static func localMinute(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> Int? {
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            (0...23).contains(hour), (0...59).contains(minute),
            (-1_000_000...1_000_000).contains(year)
        else { return nil }
        return days(year: year, month: month, day: day) * 1440 + hour * 60 + minute
    }

    /// The minutes a time may name: 0000-01-01T00:00Z through 3999-12-31T23:59Z. Any two are
    /// less than 2^31 minutes apart (by 83 years) and either end is more than 2,000 years inside
    /// `Int32`, so the spans, differences and windows before or after a minute that the
    /// detectors and reports take in `Int32` cannot overflow, however far apart a log's times
    /// are. A time outside is not a log's time: a line that gives one is `bad_timestamp`.
    public static let supported: ClosedRange<Int32> = -1_036_120_320...1_067_676_479

    /// `minute` when `supported` holds it, else nil: every minute read from text (a log line,
    /// a count series, a bucket file) passes here.
    @inline(__always)
    public static func checked(_ minute: Int) -> Int32? {
        minute >= Int(supported.lowerBound) && minute <= Int(supported.upperBound) ? Int32(truncatingIfNeeded: minute) : nil
    }

    // MARK: - Calendar arithmetic shared with the timestamp parser

    /// Days from 1970-01-01 to the given proleptic Gregorian date (which must be valid).
    @inline(__always)
    package static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (negative: before).
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra =
            (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The number of days in a month of a proleptic Gregorian year.
    @inline(__always)
    package static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2:
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `a / b` rounded down (minutes before 1970 belong to the day before, not after).
    package static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Appends the last `width` decimal digits of `value` (zero-padded), with no array of its own.
    private static func appendDigits(_ value: Int, width: Int, to text: inout [UInt8]) {
        var power = 1
        for _ in 1..<width { power *= 10 }
        while power > 0 {
            text.append(UInt8(ascii: "0") + UInt8((value / power) % 10))
            power /= 10
        }
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
