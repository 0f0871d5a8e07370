import LogSurgeCore

/// The countries of a site that sent requests today or the day before (days of steps from the
/// engine's origin): how many countries `--watch-country all` checks there now, the divisor of
/// its Bonferroni correction. Counting every country ever seen instead, a site that once
/// received a request from each of 200 countries held every country's test to 1/200 of the
/// significance for good, and a real crowd was raised ten minutes later.
///
/// A bit per two-letter code (26 × 26) for each of the two days: 170 bytes, a few operations
/// a step.
struct RecentCountries: Equatable {
    private static let words = (26 * 26 + 63) / 64

    /// The day `today` is of; nil before the first country.
    private(set) var day: Int?
    private var today = [UInt64](repeating: 0, count: RecentCountries.words)
    private var yesterday = [UInt64](repeating: 0, count: RecentCountries.words)

    init() {}

    /// Notes that `country` (two letters) sent requests on `day`, which is no earlier than the
    /// last day noted.
    mutating func note(_ country: CountryCode, day: Int) {
        move(to: day)
        let (first, second) = country.asciiBytes
        guard first != UInt8(ascii: "-") else { return }
        let index = Int(first &- UInt8(ascii: "A")) * 26 + Int(second &- UInt8(ascii: "A"))
        today[index >> 6] |= 1 << UInt64(index & 63)
    }

    /// The countries that sent requests on `day` or the day before (0 for days later than that
    /// of the last note by two or more).
    func count(on day: Int) -> Int {
        guard let noted = self.day else { return 0 }
        switch day - noted {
        case 0: return zip(today, yesterday).reduce(0) { $0 + ($1.0 | $1.1).nonzeroBitCount }
        case 1: return today.reduce(0) { $0 + $1.nonzeroBitCount }
        default: return 0
        }
    }

    private mutating func move(to day: Int) {
        guard day != self.day else { return }
        if let noted = self.day, day == noted + 1 {
            yesterday = today
        } else {
            yesterday = [UInt64](repeating: 0, count: Self.words)
        }
        today = [UInt64](repeating: 0, count: Self.words)
        self.day = day
    }
}

extension RecentCountries {
    func write(to writer: inout SnapshotWriter) {
        writer.optional(day) { $0.int($1) }
        for words in [today, yesterday] { writer.array(words) { $0.unsigned($1) } }
    }

    init(from reader: inout SnapshotReader) throws {
        day = try reader.optional { try $0.int() }
        today = try reader.array(atMost: Self.words) { try $0.unsigned() }
        yesterday = try reader.array(atMost: Self.words) { try $0.unsigned() }
        try reader.check(today.count == Self.words && yesterday.count == Self.words)
        // No bit beyond the 676 codes.
        try reader.check(today[Self.words - 1] >> UInt64(26 * 26 % 64) == 0 && yesterday[Self.words - 1] >> UInt64(26 * 26 % 64) == 0)
        try reader.check(day.map { $0 >= 0 && $0 < Int(Int32.max) } ?? true)
    }
}
