import CYaml
import Foundation

extension ConfigNode {
    /// The most nodes (scalars, lists and mappings) a run config may hold; the full config has about a hundred.
    static let maxNodes = 10_000

    /// Streams the parser's events over `yaml` before anything is composed, refusing anchors (`&name`), aliases
    /// (`*name`, `<<: *name`) and more than `maxNodes` nodes, so no text can make the config reader expand or
    /// hold more than its own size. Syntax errors are left for the composer, which reports them with a position.
    static func scan(yaml: String, source: String, keyPath: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw ConfigError(key: keyPath, message: "cannot start the YAML parser (out of memory?)", location: source)
        }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(yaml.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var nodes = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                let place = source == "command line" ? source : "\(source):\(line)"
                var anchor: UnsafeMutablePointer<yaml_char_t>?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_ALIAS_EVENT:
                    let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                    throw ConfigError(
                        key: keyPath,
                        message: "YAML aliases (*\(name)) are not supported in a run "
                            + "config; write the value out in full", location: place)
                case YAML_SCALAR_EVENT: anchor = event.data.scalar.anchor
                case YAML_SEQUENCE_START_EVENT: anchor = event.data.sequence_start.anchor
                case YAML_MAPPING_START_EVENT: anchor = event.data.mapping_start.anchor
                default: continue
                }
                if let anchor {
                    let name = String(cString: anchor)
                    throw ConfigError(
                        key: keyPath,
                        message: "YAML anchors (&\(name)) are not supported in a run "
                            + "config; write each value out in full", location: place)
                }
                nodes += 1
                if nodes > maxNodes {
                    throw ConfigError(
                        key: keyPath,
                        message: "more than \(maxNodes) YAML nodes; a run config has "
                            + "about a hundred (is this the right file?)", location: place)
                }
            }
        }
    }
}
