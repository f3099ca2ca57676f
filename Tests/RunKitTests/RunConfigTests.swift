import Foundation
import TestKit
import XCTest

@testable import RunKit

final class RunConfigTests: XCTestCase {
    /// The error a parse throws, or a failure when it does not throw one.
    private func error(
        _ yaml: String, _ overrides: [String] = [], file: StaticString = #filePath,
        line: UInt = #line
    ) -> ConfigError? {
        do {
            _ = try RunConfig.parse(yaml: yaml, overrides: overrides)
            XCTFail("expected a ConfigError", file: file, line: line)
        } catch let error as ConfigError {
            XCTAssertFalse(error.description.contains("\n"), "one line: \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    func testEmptyFileGivesDefaults() throws {
        let config = try RunConfig.parse(yaml: "")
        XCTAssertEqual(config, RunConfig())
        XCTAssertEqual(config.run.name, "arith-reinforce")
        XCTAssertEqual(config.model.reference, "runs/sft")
        XCTAssertEqual(config.algorithm.rewardClip, [-10, 10])
        XCTAssertEqual(config.optim.lr, 1e-4)
        XCTAssertNil(config.sampling.stopTokens, "the model directory's stop tokens unless the config names some")
        XCTAssertEqual(config.cluster.reward, ["tcp://127.0.0.1:5610"])
        XCTAssertEqual(config.optimizerStepsPerIteration, 2)  // 128 × 4 / 256 × 1
        XCTAssertEqual(config.runDirectory, "runs/arith-reinforce")
    }

    func testFileValuesAndReferenceDefaultsToInit() throws {
        let yaml = """
            model:
              init: ckpt/a
            algorithm:
              estimator: group_norm
              samples_per_prompt: 8
              rollout_batch: 64
              train_batch: 128
              micro_batch: 32
              epochs: 2
              dual_clip: 3
            optim:
              lr: 1e-3
              betas: [0.8, 0.99]
            """
        let config = try RunConfig.parse(yaml: yaml)
        XCTAssertEqual(config.model.reference, "ckpt/a")
        XCTAssertEqual(config.algorithm.estimator, .groupNorm)
        XCTAssertEqual(config.algorithm.dualClip, 3)
        XCTAssertEqual(config.optim.lr, 1e-3)
        XCTAssertEqual(config.optim.betas, [0.8, 0.99])
        XCTAssertEqual(config.optimizerStepsPerIteration, 8)  // 64 × 8 / 128 × 2
    }

    func testOverridesReplaceFileValues() throws {
        let config = try RunConfig.parse(
            yaml: "algorithm:\n  estimator: rloo\n",
            overrides: [
                "algorithm.estimator=gae", "optim.lr=1e-3", "sampling.stop_tokens=[1,2]", "eval.greedy=false",
                "cluster.reward=[tcp://10.0.0.2:5610, tcp://10.0.0.3:5610]", "model.critic_init=ckpt/critic",
                "run.max_minutes=0.5",
            ])
        XCTAssertEqual(config.algorithm.estimator, .gae)
        XCTAssertEqual(config.optim.lr, 1e-3)
        XCTAssertEqual(config.sampling.stopTokens, [1, 2])
        XCTAssertFalse(config.eval.greedy)
        XCTAssertEqual(config.cluster.reward, ["tcp://10.0.0.2:5610", "tcp://10.0.0.3:5610"])
        XCTAssertEqual(config.model.criticInit, "ckpt/critic")
        XCTAssertEqual(config.run.maxMinutes, 0.5)
        let unset = try RunConfig.parse(yaml: "model:\n  critic_init: x\n", overrides: ["model.critic_init=null"])
        XCTAssertNil(unset.model.criticInit)
    }

    func testUnknownKeysNameThePathAndSuggest() {
        let typo = error("algorithm:\n  estimater: gae\n")
        XCTAssertEqual(typo?.key, "algorithm.estimater")
        XCTAssertTrue(typo?.message.contains("did you mean 'estimator'?") ?? false, "\(typo!)")
        XCTAssertTrue(typo?.message.contains("samples_per_prompt") ?? false)
        XCTAssertEqual(typo?.location, "config:2")
        let override = error("", ["optim.learning_rate=0.1"])
        XCTAssertEqual(override?.key, "optim.learning_rate")
        XCTAssertEqual(override?.location, "command line")
        XCTAssertTrue(override?.message.contains("allowed keys in 'optim': lr, betas") ?? false, "\(override!)")
        let section = error("algoritm:\n  epochs: 2\n")
        XCTAssertTrue(section?.message.contains("did you mean 'algorithm'?") ?? false, "\(section!)")
        XCTAssertNotNil(error("", ["kl.coef"]))
        XCTAssertNotNil(error("", ["kl=1"]))
        XCTAssertNotNil(error("", ["bogus.coef=1"]))
    }

    func testBadValuesNameKeyValueAndAllowed() {
        let choice = error("", ["algorithm.estimator=ppoo"])
        XCTAssertEqual(choice?.key, "algorithm.estimator")
        XCTAssertTrue(choice?.message.contains("'ppoo'") ?? false)
        XCTAssertTrue(
            choice?.message.contains("reinforce, reinforce_baseline, rloo, group_norm, dr_grpo, gae") ?? false)
        let range = error("", ["optim.lr=2"])
        XCTAssertEqual(range?.message, "value 2 is out of range: must be in (0, 1)")
        XCTAssertTrue(error("", ["sampling.top_p=0"])?.message.contains("must be in (0, 1]") ?? false)
        XCTAssertTrue(error("", ["kl.coef=-0.1"])?.message.contains("must be in [0, 1000]") ?? false)
        XCTAssertTrue(error("", ["algorithm.dual_clip=1"])?.message.contains("must be in (1, 1000]") ?? false)
        XCTAssertTrue(error("", ["data.ops=[add, div]"])?.message.contains("allowed: add, sub, mul") ?? false)
    }

    func testTypeErrorsNameTheExpectedType() {
        XCTAssertTrue(error("", ["algorithm.epochs=1.5"])?.message.contains("expected an integer") ?? false)
        XCTAssertTrue(error("", ["optim.lr=fast"])?.message.contains("expected a number") ?? false)
        XCTAssertTrue(error("", ["eval.greedy=maybe"])?.message.contains("expected true or false") ?? false)
        XCTAssertTrue(error("", ["optim.betas=[0.9]"])?.message.contains("expected a list of 2 numbers") ?? false)
        XCTAssertTrue(error("run:\n  seed: \"7\"\n")?.message.contains("expected an integer") ?? false)
        XCTAssertTrue(error("run: 5\n")?.message.contains("expected a mapping") ?? false)
        XCTAssertTrue(error("- a\n- b\n")?.message.contains("mapping of sections") ?? false)
    }

    func testMalformedYAMLGivesLineAndColumn() {
        let bad = error("run:\n  name: a\n  seed: [1, 2\n")
        XCTAssertTrue(bad?.message.contains("malformed YAML at line") ?? false, "\(bad!)")
        XCTAssertTrue(bad?.message.contains("column") ?? false)
        let tab = error("run:\n  name: a\n\tseed: 2\n")
        XCTAssertTrue(tab?.message.contains("line 3") ?? false, "\(tab!)")
    }

    func testCrossFieldChecksSayWhatToChange() {
        let train = error("", ["algorithm.train_batch=300"])
        XCTAssertEqual(train?.key, "algorithm.train_batch")
        XCTAssertTrue(train?.message.contains("= 512") ?? false, "\(train!)")
        XCTAssertTrue(train?.message.contains("such as 256") ?? false, "\(train!)")
        XCTAssertEqual(error("", ["algorithm.micro_batch=100"])?.key, "algorithm.micro_batch")
        let group = error(
            "",
            [
                "algorithm.estimator=rloo", "algorithm.samples_per_prompt=1",
                "algorithm.train_batch=128", "algorithm.micro_batch=64",
            ])
        XCTAssertEqual(group?.key, "algorithm.samples_per_prompt")
        XCTAssertEqual(error("", ["algorithm.reward_clip=[1, -1]"])?.key, "algorithm.reward_clip")
        XCTAssertEqual(error("", ["data.task=dataset"])?.key, "data.train")
        XCTAssertEqual(error("", ["reward.kind=model"])?.key, "reward.model")
        XCTAssertEqual(error("", ["kl.controller=adaptive", "kl.coef=0"])?.key, "kl.coef")
        XCTAssertEqual(error("", ["cluster.heartbeat_seconds=60"])?.key, "cluster.heartbeat_seconds")
        XCTAssertEqual(error("", ["cluster.learner=ipc:///tmp/x"])?.key, "cluster.learner")
        XCTAssertEqual(error("", ["cluster.reward=[tcp://127.0.0.1:5601]"])?.key, "cluster.reward")
        XCTAssertEqual(error("", ["cluster.reference=[udp://h:1]"])?.key, "cluster.reference")
        XCTAssertEqual(error("", ["run.name=a/b"])?.key, "run.name")
        XCTAssertNoThrow(try RunConfig.parse(yaml: "", overrides: ["kl.controller=adaptive"]))
    }

    func testLearnerEndpointsAreDerivedFromTheBase() throws {
        let cluster = try RunConfig.parse(yaml: "", overrides: ["cluster.learner=tcp://*:7000"]).cluster
        XCTAssertEqual(try cluster.learnerEndpoint(.control), "tcp://*:7000")
        XCTAssertEqual(try cluster.learnerEndpoint(.weights), "tcp://*:7001")
        XCTAssertEqual(try cluster.learnerEndpoint(.status), "tcp://*:7002")
        XCTAssertEqual(try cluster.learnerEndpoint(.rollouts), "tcp://*:7003")
        XCTAssertNotNil(error("", ["cluster.learner=tcp://h:65535"]))
    }

    func testYAMLRoundTrips() throws {
        var config = RunConfig()
        config.run.name = "odd \"name\"".replacingOccurrences(of: " ", with: "_").replacingOccurrences(
            of: "\"", with: "")
        config.run.maxMinutes = 0.1 + 0.2
        config.model.criticInit = "path with: colon # and hash"
        config.data.ops = ["add", "mul"]
        config.data.task = .dataset
        config.data.train = "t.jsonl"
        config.data.validation = "v.jsonl"
        config.data.systemPrompt = "Be \"brief\":\n one line."
        config.data.maxPromptTokens = 300
        config.sampling.stop = ["\n\n", "END"]
        config.reward.url = "http://127.0.0.1:5000/get_reward"
        config.algorithm.estimator = .gae
        config.algorithm.dualClip = 2.5
        config.algorithm.criticLR = 1e-7
        config.algorithm.rewardClip = [-1.5, 2]
        config.optim.lr = 3e-4
        config.sampling.stopTokens = []
        config.cluster.keyFile = "keys/k\\ey"
        config.cluster.encrypt = true
        config.reward.kind = .model
        config.reward.model = "true"
        let text = config.yaml
        XCTAssertEqual(try RunConfig.parse(yaml: text), config, text)
        XCTAssertEqual(try RunConfig.parse(yaml: RunConfig().yaml), RunConfig())
        let dir = try temporaryDirectory("runkit-config").path
        try config.write(toDirectory: dir)
        XCTAssertEqual(try RunConfig.load(path: dir + "/config.yaml"), config)
    }

    func testDeployConfigsLoad() throws {
        let deploy = Fixtures.packageURL("Deploy/rpp.yaml").path
        let base = try RunConfig.load(path: deploy)
        XCTAssertEqual(base.algorithm.estimator, .reinforce)
        XCTAssertEqual(base.run.name, "arith-reinforce")
        XCTAssertEqual(base, RunConfig(), "rpp.yaml spells out the defaults")
        let ppo = try RunConfig.load(path: deploy.replacingOccurrences(of: "rpp.yaml", with: "rpp-ppo.yaml"))
        XCTAssertEqual(ppo.algorithm.estimator, .gae)
        var same = base
        same.run.name = "arith-ppo"
        same.algorithm.estimator = .gae
        same.algorithm.criticLR = 1e-3
        XCTAssertEqual(ppo, same, "rpp-ppo.yaml is the default run with PPO and a critic learning rate")
        XCTAssertThrowsError(try RunConfig.load(path: deploy + ".missing")) { error in
            XCTAssertTrue(error is ConfigError)
        }
    }

    func testDeployConfigDocumentsEveryKeyWithAComment() throws {
        let path = Fixtures.packageURL("Deploy/rpp.yaml").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let keyLines = lines.filter { $0.hasPrefix("  ") && $0.contains(":") }
        for line in keyLines {
            XCTAssertTrue(line.contains(" # "), "no comment on: \(line)")
        }
        XCTAssertEqual(RunConfig.allowedKeys.map(\.section), RunConfig.sectionNames)
        for (section, keys) in RunConfig.allowedKeys {
            XCTAssertTrue(lines.contains("\(section):"), section)
            for key in keys {
                XCTAssertTrue(
                    keyLines.contains {
                        $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(key):")
                            || $0.trimmingCharacters(in: .whitespaces).hasPrefix("# \(key):")
                    },
                    "\(section).\(key) is not in rpp.yaml")
            }
        }
        XCTAssertEqual(RunConfig.allowedKeys.reduce(0) { $0 + $1.keys.count }, 89)
    }

    func testSuggestDistance() {
        XCTAssertEqual(Suggest.distance("kitten", "sitting"), 3)
        XCTAssertEqual(Suggest.distance("", "abc"), 3)
        XCTAssertEqual(Suggest.closest(to: "estimater", in: ["estimator", "epochs"]), "estimator")
        XCTAssertNil(Suggest.closest(to: "zzzzzz", in: ["lr", "betas"]))
    }
}
