import Glibc

/// Colour for the terminal report: ANSI escapes only when the report goes to a terminal and
/// `NO_COLOR` is not set (https://no-color.org), else plain text.
///
/// Only logsurge's own words are coloured: text from logs is escaped first, so the one escape
/// sequence in the report are these.
public struct TerminalStyle: Sendable, Equatable {
    public var colour: Bool

    public static let plain = TerminalStyle(colour: false)
    public static let coloured = TerminalStyle(colour: true)

    public init(colour: Bool) {
        self.colour = colour
    }

    /// Colour when `descriptor` is a terminal, `NO_COLOR` is unset or empty and `TERM` is not `dumb`.
    public static func forDescriptor(_ descriptor: Int32, environment: [String: String]) -> TerminalStyle {
        let noColour = !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        return TerminalStyle(colour: !noColour && isatty(descriptor) == 1)
    }

    public func bold(_ text: String) -> String { wrap(text, "1") }
    public func dim(_ text: String) -> String { wrap(text, "2") }
    public func red(_ text: String) -> String { wrap(text, "31") }
    public func yellow(_ text: String) -> String { wrap(text, "33") }
    public func green(_ text: String) -> String { wrap(text, "32") }
    public func cyan(_ text: String) -> String { wrap(text, "36") }

    private func wrap(_ text: String, _ code: String) -> String {
        colour && !text.isEmpty ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}
