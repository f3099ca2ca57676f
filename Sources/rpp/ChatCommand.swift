// `rpp chat`: an interactive conversation with a model directory over its chat template.
import ArgumentParser
import ChatTemplate
import Foundation
import Model

/// `rpp chat --model DIR [--system TEXT]`: one user message per input line, replies streamed to stdout.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a model directory: each input line is a user message, each reply is streamed.",
        discussion: """
            The whole conversation is rendered through the model's chat template at every turn (as \
            apply_chat_template(..., add_generation_prompt=True)) and the reply is streamed to stdout as it is \
            decoded, followed by an empty line; a summary with tokens/s goes to stderr. /reset forgets the \
            conversation, /exit or the end of input leaves, /help lists the commands. Input can be piped: \
            printf 'Hi\\n/reset\\nWho are you?\\n' | rpp chat --model DIR. A turn that no longer fits in the \
            model's context is refused with a message (the conversation is kept; /reset starts over).
            """)

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json, a chat template).")
    var model: String
    @Option(help: "A system message put first in the conversation.") var system: String?
    @OptionGroup var sampling: SamplingFlags
    @Flag(help: "Do not print the per-reply summary on stderr.") var quiet = false

    func run() throws {
        OpenBLASTuning.reexecWithAVX512KernelsIfNeeded()
        let generator = try TextGenerator(directory: model, precision: sampling.precision)
        _ = try generator.chatTemplate()
        let interactive = isatty(STDIN_FILENO) != 0
        let out = FileHandle.standardOutput
        let err = FileHandle.standardError
        func note(_ s: String) { err.write(Data((s + "\n").utf8)) }
        if sampling.precision == .bf16 && !quiet { note("rpp chat: products \(sampling.precision.kernelDescription)") }
        if interactive { note("rpp chat: \(ChatInput.commandsHelp)") }
        var conversation = Conversation(system: system)
        var options = sampling.options(generator.defaults)
        while true {
            if interactive { err.write(Data("> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            switch ChatInput(line: line) {
            case .empty: continue
            case .exit: return
            case .help: note(ChatInput.commandsHelp)
            case .reset:
                conversation.reset()
                note("rpp chat: conversation reset")
            case .message(let text):
                conversation.addUser(text)
                let ids: [Int32]
                do {
                    ids = try generator.encode(try generator.render(conversation), addSpecialTokens: false)
                    _ = try generator.newTokenBudget(promptCount: ids.count, requested: options.maxNewTokens)
                } catch let e as ModelCommandError {
                    conversation.dropLast()
                    note("rpp chat: \(e.description) (/reset starts a new conversation)")
                    continue
                }
                let reply = try generator.generate(
                    prompt: ids, chat: true, options: options,
                    showSpecialTokens: sampling.showSpecialTokens
                ) { piece in
                    out.write(Data(piece.utf8))
                }
                out.write(Data("\n\n".utf8))
                conversation.addAssistant(reply.text)
                // Each reply draws fresh random numbers, reproducibly from --seed.
                options.seed &+= 1
                if !quiet { note("rpp chat: \(reply.summary)") }
            }
        }
    }
}
