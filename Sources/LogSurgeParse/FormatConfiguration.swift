/// Finds a named format string in a server's configuration (`--log-format-from CONFIG[:NAME]`).
///
/// - nginx: `log_format NAME [escape=…] 'part' "part" …;`, over as many lines as it takes, with
///   `#` comments; `NAME` defaults to `main`, and `combined` (predefined by nginx) is found
///   even when the file does not define it.
/// - Apache: `LogFormat "…" NAME` (a `\` at the end of a line continues it; `#` comments);
///   `NAME` defaults to `combined`.
///
/// `include` is not followed. The dialect is that of the first directive found.
public enum FormatConfiguration {
    /// The format string called `name` (or the dialect's default) in the configuration `text`.
    public static func formatString(in text: String, named name: String?, file: String) throws(FormatError) -> String {
        let nginx = nginxFormats(text)
        let apache = apacheFormats(text)
        if !nginx.isEmpty || (apache.isEmpty && text.contains("http {")) {
            let wanted = name ?? "main"
            if let found = nginx.last(where: { $0.name == wanted }) { return found.body }
            if wanted == "combined" {
                return #"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#
            }
            throw FormatError("\(file) has no log_format \(wanted)\(names(nginx))")
        }
        if !apache.isEmpty {
            let wanted = name ?? "combined"
            if let found = apache.last(where: { $0.name == wanted }) { return found.body }
            throw FormatError("\(file) has no LogFormat named \(wanted)\(names(apache))")
        }
        throw FormatError("\(file) holds neither an nginx log_format nor an Apache LogFormat directive")
    }

    private static func names(_ formats: [(name: String, body: String)]) -> String {
        formats.isEmpty ? "" : " (it defines \(formats.map(\.name).joined(separator: ", ")))"
    }

    /// Every `log_format` of an nginx configuration: its name and body (as `FormatString` takes it).
    static func nginxFormats(_ text: String) -> [(name: String, body: String)] {
        var formats: [(String, String)] = []
        var words: [String] = []
        var quoted: [Bool] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var wordWasQuoted = false
        var comment = false
        func endWord() {
            if inWord {
                words.append(word)
                quoted.append(wordWasQuoted)
            }
            word = ""
            inWord = false
            wordWasQuoted = false
        }
        func endDirective() {
            endWord()
            if words.count >= 3, words[0] == "log_format" {
                var parts = Array(words.dropFirst(2))
                var partsQuoted = Array(quoted.dropFirst(2))
                var prefix = ""
                if let first = parts.first, first.hasPrefix("escape="), partsQuoted.first == false {
                    prefix = first + " "
                    parts.removeFirst()
                    partsQuoted.removeFirst()
                }
                // Re-quote the parts so that FormatString sees them as the configuration wrote them.
                let body = parts.map { "'" + $0.replacing("\\", with: "\\\\").replacing("'", with: "\\'") + "'" }.joined(separator: " ")
                formats.append((words[1], prefix + body))
            }
            words = []
            quoted = []
        }
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if comment {
                if character == "\n" { comment = false }
                continue
            }
            if let open = quote {
                if character == "\\" {
                    if let next = iterator.next() {
                        switch next {
                        case "n": word.append("\n")
                        case "t": word.append("\t")
                        case "r": word.append("\r")
                        default: word.append(next)
                        }
                    }
                } else if character == open {
                    quote = nil
                } else {
                    word.append(character)
                }
                continue
            }
            switch character {
            case "#" where !inWord: comment = true
            case "'", "\"":
                inWord = true
                wordWasQuoted = true
                quote = character
            case ";": endDirective()
            case "{", "}":
                endWord()
                words = []
                quoted = []
            case _ where character.isWhitespace: endWord()
            default:
                inWord = true
                word.append(character)
            }
        }
        return formats
    }

    /// Every `LogFormat` of an Apache configuration: its nickname and string (as written).
    static func apacheFormats(_ text: String) -> [(name: String, body: String)] {
        var formats: [(String, String)] = []
        var logical = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.hasSuffix("\\") {
                logical += line.dropLast()
                continue
            }
            logical += line
            defer { logical = "" }
            let trimmed = logical.trimmingSpaces
            guard trimmed.lowercased().hasPrefix("logformat"), trimmed.dropFirst(9).first?.isWhitespace ?? false else { continue }
            let rest = trimmed.dropFirst(9).drop(while: \.isWhitespace)
            let body = ApacheDirective.configurationString(String(rest))
            // The nickname follows the closing quote.
            var nickname = ""
            if rest.first == "\"" {
                var index = rest.index(after: rest.startIndex)
                var escaped = false
                while index < rest.endIndex {
                    let character = rest[index]
                    if character == "\"" && !escaped { break }
                    escaped = character == "\\" && !escaped
                    index = rest.index(after: index)
                }
                if index < rest.endIndex {
                    let after = rest[rest.index(after: index)...].trimmingSpaces
                    if !after.isEmpty { nickname = String(after.split(whereSeparator: \.isWhitespace).first ?? "") }
                    // Apache takes a quoted nickname too: `LogFormat "…" "proxy"`.
                    if nickname.count >= 2, nickname.hasPrefix("\""), nickname.hasSuffix("\"") {
                        nickname = String(nickname.dropFirst().dropLast())
                    }
                }
            }
            formats.append((nickname, "\"" + body + "\""))
        }
        return formats
    }
}
