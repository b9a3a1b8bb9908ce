package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/client"
)

// BenchmarkEvents sends b.N log lines through a client to an all-in-one
// server in this process, and reports the events/s the server
// acknowledged, from the first report to the last acknowledgement. The
// queue holds all b.N, so that none is dropped and the figure is what
// the client sustains; everything else is the default, but for the
// number of senders, compared within one run.
func BenchmarkEvents(b *testing.B) {
	s := startServer(b)
	for _, senders := range []int{1, 0} {
		b.Run(fmt.Sprintf("senders=%d", cmpOr(senders, 4)), func(b *testing.B) {
			c, err := client.New(client.Config{URL: s.base, MaxQueue: b.N, Senders: senders})
			require.NoError(b, err)
			b.ResetTimer()
			for range b.N {
				c.Log(client.Log{TaskID: "bench", Level: "INFO", Message: "fetched 140 pages from react.dev", Source: "scraper"})
			}
			require.NoError(b, c.Close(context.Background()))
			b.StopTimer()
			require.Equal(b, uint64(b.N), c.Stats().Sent)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkUpdate is what Task.Update costs its caller: the report is
// only queued, and sent in the background.
func BenchmarkUpdate(b *testing.B) {
	s := startServer(b)
	c, err := client.New(client.Config{URL: s.base, MaxQueue: b.N + 2})
	require.NoError(b, err)
	task := c.Task("bench-update", client.TaskInfo{StepsTotal: int64(b.N)})
	task.Start()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := task.Update(client.Update{Progress: client.Percent(50), StepsDone: int64(i + 1)}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	task.Complete("")
	require.NoError(b, c.Close(context.Background()))
}
