/// ISO 3166-1 alpha-2 code packed in 16 bits (two upper-case ASCII letters); 0 means unknown ("--").
///
/// The first letter is the high byte, so the order of raw values is the alphabetical order of
/// the codes. A value made by `init(isoCode:)` or by a database lookup always holds two letters
/// `A`–`Z` or is `unknown`.
public struct CountryCode: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The two ASCII letters, first one in the high byte; 0 for unknown.
    public var rawValue: UInt16

    /// A code from its packed value, unchecked.
    @inlinable
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// No country: no record, a private or reserved address, or no database answer.
    public static let unknown = CountryCode(rawValue: 0)

    /// A code from exactly two ASCII letters, upper-cased; nil for anything else.
    public init?(isoCode: String) {
        var utf8 = isoCode.utf8.makeIterator()
        guard let first = utf8.next(), let second = utf8.next(), utf8.next() == nil else { return nil }
        self.init(asciiFirst: first, second: second)
    }

    /// A code from two ASCII letters in either case; nil unless both are letters.
    @inlinable
    package init?(asciiFirst first: UInt8, second: UInt8) {
        let upperFirst = first & 0xDF  // clears the lower-case bit: 'a'...'z' → 'A'...'Z'
        let upperSecond = second & 0xDF
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(upperFirst),
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(upperSecond)
        else { return nil }
        self.rawValue = UInt16(upperFirst) << 8 | UInt16(upperSecond)
    }

    /// True unless this is `unknown`.
    @inlinable
    public var isKnown: Bool { rawValue != 0 }

    /// The two letters, or "--" for `unknown` (and for any raw value that is not two letters).
    public var description: String {
        let (first, second) = asciiBytes
        return String(decoding: [first, second], as: UTF8.self)
    }

    /// The two letters of `description` as ASCII bytes, without making a string.
    @inlinable
    public var asciiBytes: (UInt8, UInt8) {
        let first = UInt8(truncatingIfNeeded: rawValue >> 8)
        let second = UInt8(truncatingIfNeeded: rawValue)
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first),
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(second)
        else { return (UInt8(ascii: "-"), UInt8(ascii: "-")) }
        return (first, second)
    }

    @inlinable
    public static func < (lhs: CountryCode, rhs: CountryCode) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
