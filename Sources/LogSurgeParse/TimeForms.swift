import LogSurgeCore
/// The other ways servers write a request's time: ISO 8601, seconds (or milliseconds …) since
/// the epoch, and the pieces a strftime pattern puts together.
///
/// Every reader takes a line `b`, a start index and the end of the line, reads no byte at or
/// past `end`, and returns the minute with the index just past what it read, or `nil` when the
/// text there is not a real time.

/// Reads ISO 8601 times as nginx's `$time_iso8601`, JSON loggers and load balancers write them:
/// `YYYY-MM-DDTHH:MM[:SS[.fraction]][zone]`, with `T` or a space between date and time (and
/// `YYYY/MM/DD`, as Caddy's `wall` time formats and Go write the date), and a
/// zone of `Z`, `±HH:MM`, `±HHMM` or `±HH`. A time without a zone is read as UTC and says so
/// (`hasZone`), so that a caller can warn.
///
/// Remembers the last date, hour and minute (the first 16 bytes) with their minute, so that the
/// lines of one minute cost two 64-bit compares and the seconds and zone.
struct ISOTimeCache: Sendable {
    private var prefix: (UInt64, UInt64) = (0, 0)
    private var localMinute: Int = 0

    /// The minute of the ISO time at `start`, the index after it, and whether it carried a zone.
    @inline(__always)
    mutating func minute(_ b: UnsafeRawBufferPointer, at start: Int, end: Int) -> (minute: Int32, end: Int, hasZone: Bool)? {
        guard end - start >= 16, let base = b.baseAddress else { return nil }
        // In bounds: start + 16 <= end <= b.count.
        let words = (
            UInt64(littleEndian: (base + start).loadUnaligned(as: UInt64.self)),
            UInt64(littleEndian: (base + start + 8).loadUnaligned(as: UInt64.self))
        )
        if words != prefix || localMinute == 0 {
            guard let local = Self.localMinute(b, at: start) else { return nil }
            prefix = words
            localMinute = local
        }
        var i = start + 16
        // Seconds, with an optional fraction.
        // In bounds: each read is preceded by a check against end.
        if i < end, b[i] == ASCII.colon {
            guard end - i >= 3, let seconds = twoDigits(b, i + 1), seconds <= 60 else { return nil }
            i += 3
            if i < end, b[i] == 0x2E || b[i] == 0x2C {
                let digits = i + 1
                i = digits
                while i < end, b[i] &- ASCII.zero <= 9 { i += 1 }
                guard i > digits else { return nil }
            }
        }
        // The zone.
        var offset = 0
        var hasZone = true
        if i < end, b[i] == 0x5A || b[i] == 0x7A {  // Z, z
            i += 1
        } else if i < end, b[i] == ASCII.plus || b[i] == ASCII.dash {
            let sign = b[i] == ASCII.plus ? 1 : -1
            guard end - i >= 3, let hours = twoDigits(b, i + 1), hours <= 14 else { return nil }
            i += 3
            var minutes = 0
            if end - i >= 3, b[i] == ASCII.colon, let value = twoDigits(b, i + 1) {
                minutes = value
                i += 3
            } else if end - i >= 2, let value = twoDigits(b, i) {
                minutes = value
                i += 2
            }
            guard minutes <= 59 else { return nil }
            offset = sign * (hours * 60 + minutes)
        } else {
            hasZone = false
        }
        guard let minute = UTCMinute.checked(localMinute - offset) else { return nil }
        return (minute, i, hasZone)
    }

    /// The minute (in the zone it was written in) of `YYYY-MM-DD[T ]HH:MM` at `start`
    /// (16 bytes readable), or nil; never 0 for a valid time, since 0 marks an empty cache
    /// (1970-01-01T00:00 is read anew each time, which is correct, only slower).
    private static func localMinute(_ b: UnsafeRawBufferPointer, at start: Int) -> Int? {
        // In bounds: the caller guarantees 16 bytes from start.
        guard b[start + 4] == ASCII.dash || b[start + 4] == ASCII.slash, b[start + 7] == b[start + 4],
            b[start + 10] == 0x54 || b[start + 10] == ASCII.space || b[start + 10] == 0x74,
            b[start + 13] == ASCII.colon,
            let high = twoDigits(b, start), let low = twoDigits(b, start + 2),
            let month = twoDigits(b, start + 5), let day = twoDigits(b, start + 8),
            let hour = twoDigits(b, start + 11), let minute = twoDigits(b, start + 14)
        else { return nil }
        let year = high * 100 + low
        guard (1...12).contains(month), day >= 1, day <= UTCMinute.daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59
        else { return nil }
        return UTCMinute.days(year: year, month: month, day: day) * 1440 + hour * 60 + minute
    }
}

/// The value of the two decimal digits at `i` (both readable), or nil.
@inline(__always)
func twoDigits(_ b: UnsafeRawBufferPointer, _ i: Int) -> Int? {
    // In bounds: the caller guarantees i + 1 < b.count.
    let tens = b[i] &- ASCII.zero, ones = b[i + 1] &- ASCII.zero
    guard tens <= 9, ones <= 9 else { return nil }
    return Int(tens) * 10 + Int(ones)
}

/// The unit of a time written as a number since 1970-01-01T00:00Z.
enum EpochUnit: UInt8, Sendable, Hashable {
    case seconds, milliseconds, microseconds, nanoseconds
    /// Decided by size: seconds below 10^11 (until the year 5138), milliseconds below 10^14,
    /// microseconds below 10^17, nanoseconds above; for JSON numbers, whose unit no format
    /// string states (Caddy's `time_format` chooses any of the four).
    case automatic
    /// Seconds that never carry a fraction (Apache's `%{sec}t`, strftime's `%s`): a dot after
    /// them is the format's (`%{sec}t.%{msec_frac}t`), where nginx's `$msec` writes its own.
    case wholeSeconds

    /// Reads `digits[.digits]` at `start`: the minute and the index after the number.
    ///
    /// A fraction is read and dropped (`$msec` is `1478658665.123`, Caddy's `unix_milli_float`
    /// `1478658665123.4`), but for `wholeSeconds`; at most 19 integer digits (in a `UInt64`,
    /// which 19 nines do not overflow).
    @inline(__always)
    func minute(_ b: UnsafeRawBufferPointer, at start: Int, end: Int) -> (minute: Int32, end: Int)? {
        var i = start
        var value: UInt64 = 0
        // In bounds: the loop checks i < end before each read.
        while i < end, b[i] &- ASCII.zero <= 9, i - start < 19 {
            value = value * 10 + UInt64(b[i] &- ASCII.zero)
            i += 1
        }
        guard i > start, i == end || b[i] &- ASCII.zero > 9 else { return nil }
        var unit = self
        if unit == .automatic {
            unit =
                value < 100_000_000_000
                ? .seconds
                : value < 100_000_000_000_000
                    ? .milliseconds
                    : value < 100_000_000_000_000_000 ? .microseconds : .nanoseconds
        }
        // In bounds: i < end is checked first.
        if unit != .wholeSeconds, i < end, b[i] == 0x2E {
            let digits = i + 1
            i = digits
            while i < end, b[i] &- ASCII.zero <= 9 { i += 1 }
            guard i > digits else { return nil }
        }
        let perMinute: UInt64 =
            switch unit {
            case .seconds, .automatic, .wholeSeconds: 60
            case .milliseconds: 60_000
            case .microseconds: 60_000_000
            case .nanoseconds: 60_000_000_000
            }
        guard let minute = UTCMinute.checked(Int(value / perMinute)) else { return nil }
        return (minute, i)
    }
}

/// The pieces of a time that a strftime pattern (Apache `%{…}t`) or a W3C `date` and `time`
/// pair write separately, gathered over a line and turned into a minute at its end.
struct TimeParts: Sendable {
    var year = -1, month = -1, day = -1, hour = -1, minute = -1
    /// 12-hour clock (`%I`) and its `%p`: the hour is adjusted at the end.
    var twelveHour = false, afternoon = false
    /// Minutes east of UTC (`%z`); nil when the pattern gives no zone.
    var offset: Int?
    /// `%s`: seconds since the epoch, which decide everything else.
    var epochMinute: Int32?

    /// The UTC minute, or nil when a piece is missing or the date does not exist.
    func utcMinute() -> Int32? {
        if let epochMinute { return epochMinute }
        var hour = self.hour
        if twelveHour {
            guard (1...12).contains(hour) else { return nil }
            hour = hour % 12 + (afternoon ? 12 : 0)
        }
        guard year >= 0, let local = UTCMinute.localMinute(year: year, month: month, day: day, hour: hour, minute: minute)
        else { return nil }
        return UTCMinute.checked(local - (offset ?? 0))
    }
}

/// One piece of a strftime pattern: how to read it and where it goes in `TimeParts`.
enum TimePiece: UInt8, Sendable, Hashable {
    /// `%Y`: four digits.
    case year
    /// `%y`: two digits, 69–99 in the 1900s and 00–68 in the 2000s (POSIX).
    case shortYear
    /// `%m`: two digits (here and for `%d`, `%H`, `%I`, `%M`, `%S`, one when unpadded: `%-m`).
    case month
    /// `%b`, `%h`: an English month abbreviation in any case.
    case monthName
    /// `%B`: an English month name in full.
    case fullMonthName
    /// `%d`: two digits; `%e`: two characters, the first a digit or a space.
    case day, spacedDay
    /// `%H`: two digits 00–23; `%I`: 01–12 (with `%p`).
    case hour, twelveHour
    /// `%M`.
    case minute
    /// `%S`: read and checked, not kept.
    case second
    /// `[:SS[.fraction]]` after a W3C `time`'s minute: read if there, not kept.
    case optionalSeconds
    /// `%p`: `AM` or `PM` in any case.
    case meridiem
    /// `%a`, `%A`: a day name (letters), skipped.
    case dayName
    /// `%z`: `±hhmm`.
    case zone
    /// `%Z`: a zone name; only `UTC`, `GMT` and `Z` are known (as +0000).
    case zoneName
    /// `%s`: seconds since the epoch.
    case epochSeconds
    /// `%j`: the day of the year, three digits (with `%Y`, instead of month and day).
    case dayOfYear

    /// Reads the piece at `i` into `parts`; the index after it, or nil.
    @inline(__always)
    func read(_ b: UnsafeRawBufferPointer, at i: Int, end: Int, into parts: inout TimeParts) -> Int? {
        switch self {
        case .year:
            guard end - i >= 4, let high = twoDigits(b, i), let low = twoDigits(b, i + 2) else { return nil }
            parts.year = high * 100 + low
            return i + 4
        case .shortYear:
            guard end - i >= 2, let value = twoDigits(b, i) else { return nil }
            parts.year = value < 69 ? 2000 + value : 1900 + value
            return i + 2
        case .month, .day, .hour, .twelveHour, .minute, .second:
            // Two digits, or one where the pattern drops the padding (GNU `%-d`, `%-H`).
            // In bounds: i < end before reading i, i + 1 < end before i + 1.
            guard i < end, b[i] &- ASCII.zero <= 9 else { return nil }
            var value = Int(b[i] &- ASCII.zero), next = i + 1
            if next < end, b[next] &- ASCII.zero <= 9 {
                value = value * 10 + Int(b[next] &- ASCII.zero)
                next += 1
            }
            switch self {
            case .month: parts.month = value
            case .day: parts.day = value
            case .hour: parts.hour = value
            case .twelveHour:
                parts.hour = value
                parts.twelveHour = true
            case .minute: parts.minute = value
            default: guard value <= 60 else { return nil }
            }
            return next
        case .spacedDay:
            guard end - i >= 2 else { return nil }
            // In bounds: i + 1 < end.
            let tens = b[i] == ASCII.space ? 0 : b[i] &- ASCII.zero, ones = b[i + 1] &- ASCII.zero
            guard tens <= 9, ones <= 9 else { return nil }
            parts.day = Int(tens) * 10 + Int(ones)
            return i + 2
        case .monthName:
            guard end - i >= 3, let month = TimestampCache.monthNumber(b[i], b[i + 1], b[i + 2]) else { return nil }
            parts.month = month
            return i + 3
        case .fullMonthName:
            guard end - i >= 3, let month = TimestampCache.monthNumber(b[i], b[i + 1], b[i + 2]) else { return nil }
            let name = Self.monthNames[month - 1]
            guard end - i >= name.count else { return nil }
            for (offset, letter) in name.enumerated() where b[i + offset] | 0x20 != letter { return nil }
            parts.month = month
            return i + name.count
        case .meridiem:
            guard end - i >= 2, b[i + 1] | 0x20 == 0x6D else { return nil }  // "m"
            switch b[i] | 0x20 {
            case 0x61: parts.afternoon = false  // "a"
            case 0x70: parts.afternoon = true  // "p"
            default: return nil
            }
            return i + 2
        case .dayName:
            var j = i
            // In bounds: j < end is checked first.
            while j < end, (b[j] | 0x20) &- 0x61 < 26 { j += 1 }
            return j - i >= 3 ? j : nil
        case .zone:
            guard end - i >= 5, b[i] == ASCII.plus || b[i] == ASCII.dash,
                let hours = twoDigits(b, i + 1), let minutes = twoDigits(b, i + 3), hours <= 14, minutes <= 59
            else { return nil }
            parts.offset = (b[i] == ASCII.plus ? 1 : -1) * (hours * 60 + minutes)
            return i + 5
        case .zoneName:
            var j = i
            // In bounds: j < end is checked first.
            while j < end, (b[j] | 0x20) &- 0x61 < 26 { j += 1 }
            let name = j - i
            guard
                name == 1 && b[i] | 0x20 == 0x7A
                    || name == 3
                        && ((b[i] | 0x20, b[i + 1] | 0x20, b[i + 2] | 0x20) == (0x75, 0x74, 0x63)
                            || (b[i] | 0x20, b[i + 1] | 0x20, b[i + 2] | 0x20) == (0x67, 0x6D, 0x74))
            else { return nil }
            parts.offset = 0
            return j
        case .epochSeconds:
            guard let (minute, next) = EpochUnit.wholeSeconds.minute(b, at: i, end: end) else { return nil }
            parts.epochMinute = minute
            return next
        case .optionalSeconds:
            // In bounds: each read is preceded by a check against end.
            guard i < end, b[i] == ASCII.colon else { return i }
            guard end - i >= 3, let seconds = twoDigits(b, i + 1), seconds <= 60 else { return nil }
            var j = i + 3
            if j < end, b[j] == 0x2E {
                j += 1
                while j < end, b[j] &- ASCII.zero <= 9 { j += 1 }
            }
            return j
        case .dayOfYear:
            guard end - i >= 3, let high = twoDigits(b, i) else { return nil }
            let ones = b[i + 2] &- ASCII.zero
            guard ones <= 9 else { return nil }
            let dayOfYear = high * 10 + Int(ones)
            guard dayOfYear >= 1, dayOfYear <= 366 else { return nil }
            // Month and day are worked out at the end, once the year is known: kept as month 0.
            parts.month = 0
            parts.day = dayOfYear
            return i + 3
        }
    }

    private static let monthNames: [[UInt8]] = [
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december",
    ].map { Array($0.utf8) }
}

extension TimeParts {
    /// With `%j`, the day of the year becomes a month and day once the year is known.
    mutating func resolveDayOfYear() {
        guard month == 0, year >= 0 else { return }
        var remaining = day
        for candidate in 1...12 {
            let length = UTCMinute.daysInMonth(year: year, month: candidate)
            if remaining <= length {
                month = candidate
                day = remaining
                return
            }
            remaining -= length
        }
        month = -1
    }
}
