package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/internal/bus"
)

// crashDirEnv makes the test binary act as the crash test's child: it
// publishes into the named directory until it is killed.
const crashDirEnv = "TASKPULSE_EMBEDDED_CRASH_DIR"

var crashOpts = Options{SegmentBytes: 256 << 10}

// publishUntilKilled publishes from several goroutines and prints
// "ack <value>" for every record of every Publish call that returned nil.
func publishUntilKilled(dir string) {
	b, err := Open(dir, crashOpts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	padding := strings.Repeat("x", 380)
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				recs := make([]bus.Record, 1+i%16)
				var acks strings.Builder
				for j := range recs {
					v := fmt.Sprintf("w%d-%d-%d", w, i, j)
					recs[j] = bus.Record{Topic: "progress", Key: []byte(fmt.Sprint(w)), Value: []byte(v + " " + padding)}
					fmt.Fprintf(&acks, "ack %s\n", v)
				}
				if err := b.Publish(context.Background(), recs...); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				out.Lock()
				os.Stdout.WriteString(acks.String())
				out.Unlock()
			}
		}()
	}
	select {}
}

func TestCrashKeepsAcknowledgedRecords(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	acked := map[string]bool{}
	scanner := bufio.NewScanner(stdout)
	killed := false
	for scanner.Scan() {
		if v, ok := strings.CutPrefix(scanner.Text(), "ack "); ok {
			acked[v] = true
		}
		if !killed && len(acked) >= 20000 {
			require.NoError(t, cmd.Process.Kill()) // SIGKILL
			killed = true
		}
	}
	require.True(t, killed, "child exited before it was killed")
	_ = cmd.Wait()

	b := openTest(t, dir, crashOpts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	missing := len(acked)
	err = b.Consume(ctx, "check", []string{"progress"}, bus.ConsumeOptions{MaxBatch: 5000}, func(_ context.Context, batch []bus.Record) error {
		for _, r := range batch {
			v, _, _ := strings.Cut(string(r.Value), " ")
			if acked[v] {
				acked[v] = false
				missing--
			}
		}
		if missing == 0 {
			cancel()
		}
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, missing)
}
