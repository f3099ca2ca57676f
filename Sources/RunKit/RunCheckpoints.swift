import Foundation

/// Where a run keeps its checkpoints: `<run directory>/checkpoints/iter-NNNNNN`, each complete once its
/// `trainer_state.json` is written (the learner writes that file last).
public enum RunCheckpoints {
    /// The file whose presence marks a checkpoint directory as complete.
    public static let completeMarker = "trainer_state.json"

    /// The checkpoints directory of a run.
    public static func directory(runDirectory: String) -> URL {
        URL(fileURLWithPath: runDirectory).appendingPathComponent("checkpoints")
    }

    /// The newest complete checkpoint of the run, or nil when there is none.
    public static func latest(runDirectory: String) -> URL? {
        let root = directory(runDirectory: runDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .filter {
                $0.hasPrefix("iter-")
                    && FileManager.default.fileExists(
                        atPath: root.appendingPathComponent($0).appendingPathComponent(completeMarker).path)
            }
        return names.sorted().last.map { root.appendingPathComponent($0) }
    }
}
