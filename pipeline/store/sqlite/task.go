package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
)

const kindTask = "task"

// taskArgs is a one-off piece of work that needs the forge's API and so may
// not run before the webhook is acknowledged (a command's permission check,
// reading a sweep file). Its payload makes it unique: the same delivery
// never queues two.
type taskArgs struct {
	Task    string          `json:"task"`
	Payload json.RawMessage `json:"payload"`
}

func (taskArgs) Kind() string                 { return kindTask }
func (taskArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

func (t *tx) EnqueueTask(ctx context.Context, kind string, payload json.RawMessage) error {
	if kind == "" || !json.Valid(payload) {
		return errors.New("sqlite: enqueue task: a kind and a JSON payload are required")
	}
	if err := t.s.enqueue(ctx, t.tx, taskArgs{Task: kind, Payload: payload}); err != nil {
		return fmt.Errorf("sqlite: enqueue task %s: %w", kind, err)
	}
	return nil
}
