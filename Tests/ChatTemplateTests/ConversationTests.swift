import Foundation
import XCTest

@testable import ChatTemplate

/// The conversation an interactive chat keeps, and the commands of its input lines.
final class ConversationTests: XCTestCase {
    private let chatML = """
        {% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}\
        {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}
        """

    func testRendersEveryTurnAfterTheSystemMessage() throws {
        var c = Conversation(system: "Be brief.")
        c.addUser("Hi")
        c.addAssistant("Hello!")
        c.addUser("2+2?")
        let text = try ChatTemplate(chatML).render(c.request(addGenerationPrompt: true))
        XCTAssertEqual(
            text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(c.messages.map(\.role), ["system", "user", "assistant", "user"])
    }

    func testResetKeepsTheSystemMessageAndDropLastUndoesATurn() throws {
        var c = Conversation(system: "S")
        c.addUser("a")
        c.addAssistant("b")
        c.addUser("c")
        c.dropLast()
        XCTAssertEqual(c.turns.map(\.content), ["a", "b"])
        c.reset()
        XCTAssertEqual(c.messages, [Conversation.Message(role: "system", content: "S")])
        c.dropLast()
        XCTAssertEqual(c.turns, [])
        var plain = Conversation()
        plain.addUser("x")
        XCTAssertEqual(plain.messages.map(\.role), ["user"], "no system message unless one is given")
    }

    func testInputLines() {
        XCTAssertEqual(ChatInput(line: "/reset"), .reset)
        XCTAssertEqual(ChatInput(line: "  /exit "), .exit)
        XCTAssertEqual(ChatInput(line: "/quit"), .exit)
        XCTAssertEqual(ChatInput(line: "/help"), .help)
        XCTAssertEqual(ChatInput(line: "   "), .empty)
        XCTAssertEqual(ChatInput(line: "/resetting the router?"), .message("/resetting the router?"))
        XCTAssertEqual(ChatInput(line: "What is /exit?"), .message("What is /exit?"))
    }
}
