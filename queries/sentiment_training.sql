-- sentiment_training: the model's training history, oldest first (all of it: training happens rarely).
-- tables: training_runs
-- returns: run_id, model_version, finished_at, accuracy, f1
SELECT run_id, model_version, finished_at, accuracy, f1
FROM training_runs
ORDER BY finished_at, run_id
