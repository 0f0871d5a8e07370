import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The page parsed as XML: the HTML report is written well-formed so that any escaping slip is
/// a parse error, and so that its content can be checked element by element.
package final class PageNode {
    package let name: String
    package let attributes: [String: String]
    package var children: [PageNode] = []
    /// Character data directly inside this element, pieces in order.
    package var ownText = ""

    package init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    package var classes: Set<String> { Set((attributes["class"] ?? "").split(separator: " ").map(String.init)) }

    /// All text inside, in document order.
    package var text: String { ownText + children.map(\.text).joined() }

    /// Every element below (and including) this one that `predicate` selects, in document order.
    package func all(_ predicate: (PageNode) -> Bool) -> [PageNode] {
        (predicate(self) ? [self] : []) + children.flatMap { $0.all(predicate) }
    }

    package func all(_ name: String, class className: String? = nil) -> [PageNode] {
        all { $0.name == name && (className.map($0.classes.contains) ?? true) }
    }

    /// The `d` of the first `<path>` of `className` below; empty when there is none.
    package func pathData(_ className: String) -> String {
        all("path", class: className).first?.attributes["d"] ?? ""
    }

    /// Every attribute value below, for checks on what reached attributes.
    package var attributeValues: [String] { Array(attributes.values) + children.flatMap(\.attributeValues) }

    /// Parses `page`; the error names the line and column where the XML broke.
    package static func parse(_ page: String) throws -> PageNode {
        let builder = Builder()
        let parser = XMLParser(data: Data(page.utf8))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw ParseFailure(
                description: "not well-formed XML at line \(parser.lineNumber), column \(parser.columnNumber): "
                    + (parser.parserError.map { "\($0)" } ?? "no root element"))
        }
        return root
    }

    package struct ParseFailure: Error, CustomStringConvertible {
        package var description: String
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: PageNode?
        var stack: [PageNode] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
            qualifiedName: String?, attributes: [String: String] = [:]
        ) {
            let node = PageNode(name: elementName, attributes: attributes)
            stack.last?.children.append(node)
            if root == nil { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.ownText += string
        }
    }
}
