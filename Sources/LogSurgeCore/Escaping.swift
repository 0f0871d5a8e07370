/// Escaping for the kinds of text logsurge writes: JSON, CSV, Prometheus label values, the
/// terminal and HTML.
///
/// Strings that come from log lines (sites, samples) are attacker-controlled: nothing of them
/// reaches the terminal or a page raw, and JSON/CSV/Prometheus/HTML stay well-formed whatever
/// bytes they hold.
public enum Escaping {
    /// A JSON string literal, quotes included.
    public static func json(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x2028...0x2029).contains(scalar.value):
                result += "\\u" + hex(scalar.value, width: 4)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// A CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF. Text from logs
    /// that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a
    /// CR, as OWASP's "CSV injection" lists them) gets a leading `'`, which spreadsheets show as
    /// text; a lone `-` (the site of a log without virtual hosts) is no formula and stays. Text
    /// that starts with `'` gets one more, so `csvUnneutralised` gives back exactly the text.
    public static func csv(_ text: String) -> String {
        var text = text
        if let first = text.utf8.first, isFormulaStart(first) || first == 0x27, text != "-" {
            text = "'" + text
        }
        guard text.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else { return text }
        return "\"" + text.replacingAll("\"", with: "\"\"") + "\""
    }

    /// Whether a cell starting with `byte` is one a spreadsheet runs as a formula.
    static func isFormulaStart(_ byte: UInt8) -> Bool {
        byte == 0x3D || byte == 0x2B || byte == 0x2D || byte == 0x40 || byte == 0x09 || byte == 0x0D
    }

    /// The text of a CSV cell `csv` wrote (after its quotes are removed): the `'` it put before a
    /// formula or a `'` taken off again.
    public static func csvUnneutralised(_ cell: String) -> String {
        let bytes = Array(cell.utf8)
        guard bytes.count >= 2, bytes[0] == 0x27, isFormulaStart(bytes[1]) || bytes[1] == 0x27 else { return cell }
        return String(cell.dropFirst())
    }

    /// The fields of one CSV line (RFC 4180 quoting: `""` in a quoted field is a quote; a CR is dropped),
    /// as `csv` wrote them.
    public static func csvFields(_ line: Substring) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if quoted {
                if character == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" { field.append("\""); index = next } else { quoted = false }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else if character != "\r" {
                field.append(character)
            }
            index = line.index(after: index)
        }
        fields.append(field)
        return fields
    }

    /// A Prometheus label value, quotes included, as the text exposition format (0.0.4) wants it:
    /// backslash, double quote and line feed escaped (`\\`, `\"`, `\n`), everything else as it is.
    public static func prometheusLabel(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Printable text for a terminal: control bytes, escape sequences and invalid UTF-8 become
    /// `\xNN`, a backslash becomes `\\`.
    public static func terminal(_ bytes: some Sequence<UInt8>) -> String {
        let bytes = Array(bytes)
        var result = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x5C {
                result += "\\\\"
                index += 1
            } else if byte >= 0x20 && byte < 0x7F {
                result.unicodeScalars.append(Unicode.Scalar(byte))
                index += 1
            } else if let (scalar, length) = decodeScalar(bytes, at: index), isPrintable(scalar) {
                result.unicodeScalars.append(scalar)
                index += length
            } else {
                result += "\\x" + hex(UInt32(byte), width: 2)
                index += 1
            }
        }
        return result
    }

    /// One well-formed UTF-8 sequence of 2–4 bytes at `index`, if there is one.
    private static func decodeScalar(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        let length: Int, initial: UInt32, minimum: UInt32
        switch lead {
        case 0xC2...0xDF: (length, initial, minimum) = (2, UInt32(lead & 0x1F), 0x80)
        case 0xE0...0xEF: (length, initial, minimum) = (3, UInt32(lead & 0x0F), 0x800)
        case 0xF0...0xF4: (length, initial, minimum) = (4, UInt32(lead & 0x07), 0x10000)
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        var value = initial
        for offset in 1..<length {
            let next = bytes[index + offset]
            guard next & 0xC0 == 0x80 else { return nil }
            value = value << 6 | UInt32(next & 0x3F)
        }
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }

    /// Excludes controls (C1 included), line and paragraph separators, and every invisible
    /// format character: bidirectional marks, overrides and isolates (U+061C, U+200E, U+202E,
    /// U+2066 …), zero-width characters and tags, which can disguise or reorder text.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: false
        default: true
        }
    }

    /// Printable text for a terminal from a string.
    public static func terminal(_ text: String) -> String { terminal(text.utf8) }

    /// Text for an HTML (and XML) page, in element content or a quoted attribute value.
    ///
    /// `&`, `<`, `>`, `"` and `'` become character references; what the terminal would not
    /// show raw (control bytes, invisible format characters, invalid UTF-8) is written as
    /// `\xNN`, as there, and so are U+FFFE and U+FFFF, so the page stays well-formed XML 1.0
    /// whatever bytes a log line held.
    public static func html(_ bytes: some Sequence<UInt8>) -> String {
        var result = ""
        for scalar in terminal(bytes).unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\u{FFFE}", "\u{FFFF}":
                for byte in String(scalar).utf8 { result += "\\x" + hex(UInt32(byte), width: 2) }
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Text for an HTML page from a string.
    public static func html(_ text: String) -> String { html(text.utf8) }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

extension String {
    package func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
