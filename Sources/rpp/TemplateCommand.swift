// `rpp template`: render chat requests through a model's chat template, as transformers' apply_chat_template.
import ArgumentParser
import ChatTemplate
import Foundation

/// `rpp template --model DIR`: one {"text": ...} (or {"error": ...}) line per JSONL request line.
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Render JSONL chat requests with a model's chat template, as transformers' apply_chat_template.",
        discussion: """
            Each input line is {"messages": [...], "add_generation_prompt": bool, "tools": [...]?, \
            "documents": [...]?, "continue_final_message": bool?, ...}; any other key is a template variable \
            (date_string, enable_thinking, ...), overriding the special tokens of tokenizer_config.json. Each output \
            line is {"text": "..."}, or {"error": "..."} when the template raised (raise_exception) or failed; \
            rendering goes on with the next line. An input line that is not a JSON request gets an error line naming \
            its line number, and the command exits with status 1 at the end. Blank lines are skipped.

            The template is chat_template.jinja (with additional_chat_templates/*.jinja) if present, else the \
            "chat_template" of tokenizer_config.json; with several named templates, "tool_use" is taken for a \
            request with tools when it exists, else "default", unless --template-name says which.
            """)

    @Option(
        help: "Model directory (tokenizer_config.json, chat_template.jinja), a tokenizer_config.json, or a .jinja file."
    )
    var model: String
    @Option(help: "JSONL requests (default: standard input).") var input: String?
    @Option(help: "The named template to use when the model has several.") var templateName: String?

    func run() throws {
        let templates: ChatTemplates
        do {
            templates = try ChatTemplates.load(model)
        } catch {
            throw ValidationError("\(model): \(error)")
        }
        var compiled: [String: ChatTemplate] = [:]
        func template(hasTools: Bool) throws -> ChatTemplate {
            let source = try templates.select(name: templateName, hasTools: hasTools)
            if let t = compiled[source] { return t }
            let t = try ChatTemplate(source)
            compiled[source] = t
            return t
        }
        let handle: FileHandle
        if let input {
            guard let h = FileHandle(forReadingAtPath: input) else { throw ValidationError("cannot read \(input)") }
            handle = h
        } else {
            handle = FileHandle.standardInput
        }
        var malformed = 0
        var lineNumber = 0
        var pending = Data()
        func process(_ lineData: Data) {
            lineNumber += 1
            let line = String(decoding: lineData, as: UTF8.self)
            if line.allSatisfy({ $0.isWhitespace }) { return }
            let request: ChatRequest
            do {
                request = try ChatRequest(object: try JSONReader.parse(line))
            } catch let e as JSONReadError {
                malformed += 1
                emit("error", "input line \(lineNumber): \(e)")
                return
            } catch {
                malformed += 1
                emit("error", "input line \(lineNumber): \(error)")
                return
            }
            do {
                let t = try template(hasTools: request.tools != nil)
                emit("text", try t.render(request, specialTokens: templates.specialTokens))
            } catch let e as TemplateError {
                emit("error", e.description)
            } catch {
                emit("error", "\(error)")
            }
        }
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: 0x0A) {
                process(pending[pending.startIndex..<nl])
                pending = Data(pending[(nl + 1)...])
            }
        }
        if !pending.isEmpty { process(pending) }
        if malformed > 0 {
            FileHandle.standardError.write(
                Data("rpp template: \(malformed) input line(s) were not JSON requests\n".utf8))
            throw ExitCode(1)
        }
    }

    private func emit(_ key: String, _ value: String) {
        let line = "{\"\(key)\": " + ChatTemplate.jsonString(value) + "}\n"
        FileHandle.standardOutput.write(Data(line.utf8))
    }
}
