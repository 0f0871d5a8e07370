import LogSurgeCore
/// Reads `dd/Mon/yyyy:HH:MM:SS ±hhmm` (Apache `%t` without its brackets, nginx `$time_local`)
/// into a UTC minute, remembering the last one.
///
/// Log lines arrive in time order, so consecutive lines almost always share the minute and
/// zone. The cache keeps the bytes `dd/Mon/yyyy:HH:MM` and ` ±hhmm` of the last valid
/// timestamp with its minute; a line whose bytes match reuses the minute after four 64-bit
/// compares and a check of the seconds. Anything else is parsed and validated in full.
struct TimestampCache: Sendable {
    /// The length of the timestamp text (without brackets).
    static let length = 26

    private typealias Key = (UInt64, UInt64, UInt64, UInt64)

    private var key: Key
    private var cachedMinute: Int32

    /// Starts with a real timestamp so that a match always returns a correct minute.
    init() {
        let seed: StaticString = "01/Jan/1970:00:00:00 +0000"
        // In bounds: the seed literal is exactly `length` bytes long.
        key = Self.key(UnsafeRawPointer(seed.utf8Start))
        cachedMinute = 0
    }

    /// The UTC minute of the timestamp at `start`, or `nil` if it is not a real date and time.
    ///
    /// Requires `start + length <= text.count`.
    @inline(__always)
    mutating func minute(_ text: UnsafeRawBufferPointer, at start: Int) -> Int32? {
        // In bounds: the caller guarantees `length` bytes from `start` inside `text`.
        let p = text.baseAddress! + start
        // In bounds: offsets 18 and 19 are below `length`.
        let tens = p.load(fromByteOffset: 18, as: UInt8.self) &- ASCII.zero
        let ones = p.load(fromByteOffset: 19, as: UInt8.self) &- ASCII.zero
        guard tens <= 6, ones <= 9, tens * 10 + ones <= 60 else { return nil }
        let current = Self.key(p)
        if ((current.0 ^ key.0) | (current.1 ^ key.1) | (current.2 ^ key.2) | (current.3 ^ key.3)) == 0 {
            return cachedMinute
        }
        guard let minute = Self.parseFully(p) else { return nil }
        key = current
        cachedMinute = minute
        return minute
    }

    /// The timestamp's bytes except the seconds, as four words.
    @inline(__always)
    private static func key(_ p: UnsafeRawPointer) -> Key {
        // In bounds: each load reads 8 bytes ending at offset 8, 16, 24 or 26 <= `length`.
        let a = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let b = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let c = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        let d = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 18, as: UInt64.self))
        // c holds offsets 16..<24 and d 18..<26; clear the seconds (offsets 18 and 19).
        return (a, b, c & 0xFFFF_FFFF_0000_FFFF, d & 0xFFFF_FFFF_FFFF_0000)
    }

    /// Parses and validates every field of the timestamp at `p` (`length` bytes readable).
    private static func parseFully(_ p: UnsafeRawPointer) -> Int32? {
        // In bounds: every offset read below is below `length`.
        func byte(_ offset: Int) -> UInt8 { p.load(fromByteOffset: offset, as: UInt8.self) }
        func twoDigits(_ offset: Int) -> Int? {
            let tens = byte(offset) &- ASCII.zero
            let ones = byte(offset + 1) &- ASCII.zero
            guard tens <= 9, ones <= 9 else { return nil }
            return Int(tens) * 10 + Int(ones)
        }
        guard byte(2) == ASCII.slash, byte(6) == ASCII.slash, byte(11) == ASCII.colon,
            byte(14) == ASCII.colon, byte(17) == ASCII.colon, byte(20) == ASCII.space,
            let day = twoDigits(0), let month = monthNumber(byte(3), byte(4), byte(5)),
            let century = twoDigits(7), let yearInCentury = twoDigits(9),
            let hour = twoDigits(12), let minute = twoDigits(15),
            let offsetHours = twoDigits(22), let offsetMinutes = twoDigits(24)
        else { return nil }
        let sign = byte(21)
        guard sign == ASCII.plus || sign == ASCII.dash else { return nil }
        let year = century * 100 + yearInCentury
        let offset = offsetHours * 60 + offsetMinutes
        guard day >= 1, day <= UTCMinute.daysInMonth(year: year, month: month),
            hour <= 23, minute <= 59, offsetMinutes <= 59, offset <= 14 * 60
        else { return nil }
        let local = UTCMinute.days(year: year, month: month, day: day) * 1440 + hour * 60 + minute
        return UTCMinute.checked(sign == ASCII.plus ? local - offset : local + offset)
    }

    /// The month number of an English three-letter month name, in any letter case.
    static func monthNumber(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        // OR-ing 0x20 lowercases ASCII letters; only `A`/`a` (etc.) map onto a lowercase letter.
        let name = UInt32(a | 0x20) << 16 | UInt32(b | 0x20) << 8 | UInt32(c | 0x20)
        func packed(_ text: StaticString) -> UInt32 {
            // In bounds: every name passed below has exactly three bytes.
            let p = text.utf8Start
            return UInt32(p[0]) << 16 | UInt32(p[1]) << 8 | UInt32(p[2])
        }
        switch name {
        case packed("jan"): return 1
        case packed("feb"): return 2
        case packed("mar"): return 3
        case packed("apr"): return 4
        case packed("may"): return 5
        case packed("jun"): return 6
        case packed("jul"): return 7
        case packed("aug"): return 8
        case packed("sep"): return 9
        case packed("oct"): return 10
        case packed("nov"): return 11
        case packed("dec"): return 12
        default: return nil
        }
    }
}
