/// A JSON value as logsurge's wire formats write it (alert lines, the summary): each output
/// declares its fields once, as values of these types, and one encoder writes them, so that
/// escaping (`Escaping.json`), numbers and UTC minutes are written one way everywhere.
///
/// The encoding is compact (no spaces) and keeps the fields in the order they were given.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case unsigned(UInt64)
    /// A real number: written as an integer when it is one (below 10^15), else as Swift
    /// writes a `Double` (the shortest text that reads back as the same value).
    case number(Double)
    case string(String)
    /// A UTC minute, written as `"YYYY-MM-DDTHH:MMZ"`.
    case minute(Int32)
    case array([JSONValue])
    case object(JSONObject)

    /// An integer of any width.
    public static func int(_ value: some BinaryInteger) -> JSONValue {
        if let signed = Int64(exactly: value) { return .integer(signed) }
        return .unsigned(UInt64(clamping: value))
    }

    /// `.null` for nil, else `wrap(value)`.
    public static func optional<T>(_ value: T?, _ wrap: (T) -> JSONValue) -> JSONValue {
        value.map(wrap) ?? .null
    }

    /// The value's JSON text, appended to `out`.
    public func encode(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .integer(let value): out += String(value)
        case .unsigned(let value): out += String(value)
        case .number(let value):
            guard value.isFinite else {
                out += "null"
                return
            }
            out += value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .string(let value): out += Escaping.json(value)
        case .minute(let value): out += "\"" + UTCMinute.format(value) + "\""
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.encode(into: &out)
            }
            out += "]"
        case .object(let object): object.encode(into: &out)
        }
    }

    /// The value's JSON text.
    public var encoded: String {
        var out = ""
        encode(into: &out)
        return out
    }
}

/// A JSON object whose fields keep the order they were added in (the order a format documents).
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: JSONValue)] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    /// Adds a field after the others.
    public mutating func append(_ name: String, _ value: JSONValue) {
        fields.append((name, value))
    }

    public func encode(into out: inout String) {
        out += "{"
        for (index, field) in fields.enumerated() {
            if index > 0 { out += "," }
            out += Escaping.json(field.name)
            out += ":"
            field.value.encode(into: &out)
        }
        out += "}"
    }

    /// The object's JSON text.
    public var encoded: String {
        var out = ""
        encode(into: &out)
        return out
    }

    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        left.fields.count == right.fields.count
            && zip(left.fields, right.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}
