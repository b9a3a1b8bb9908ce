package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/stretchr/testify/require"
)

// migratingSection is the heading of the README's section for teams moving
// from the platform's progress module.
const migratingSection = "## Moving from the platform's progress module"

// websocatExample is a websocat line of the guide and the messages that
// follow it.
var websocatExample = regexp.MustCompile(`(?m)^websocat '([^']+)'\n((?:# .*\n)+)`)

// TestLegacyProgressRoutesAsTheGuideShows runs the guide's examples, in
// order, against a server: its curl blocks as the README's examples run
// (readme_test.go), and its WebSocket example, which needs websocat there,
// over a WebSocket dialled here.
func TestLegacyProgressRoutesAsTheGuideShows(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is needed to run the guide's examples")
		}
		t.Skip("curl is not installed")
	}
	srv := startServer(t)
	host := strings.TrimPrefix(srv.base, "http://")
	work := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(work, ".curlrc"), []byte("write-out = "+strconv.Quote(curlStatus)+"\n"), 0o644))
	env := append(os.Environ(), "CURL_HOME="+work)

	guidePath, guide := migratingGuide(t)
	examples := readmeExamples(t, guidePath)
	require.Len(t, examples, 5, "the guide's curl blocks")
	for _, ex := range examples {
		for _, step := range ex.steps {
			step.script = strings.ReplaceAll(step.script, "localhost:8080", host)
			deadline := time.Now().Add(10 * time.Second)
			var err error
			for {
				// Reads may run ahead of the writer; writes run once.
				if err = step.run(work, env); err == nil || writesInStep.MatchString(step.script) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			require.NoError(t, err, "README.md:%d\n%s", step.line, step.script)
		}
	}

	m := websocatExample.FindSubmatch(guide)
	require.NotNil(t, m, "the guide's WebSocket example")
	url := strings.ReplaceAll(string(m[1]), "localhost:8080", host)
	conn, resp, err := websocket.DefaultDialer.Dial(url, http.Header{})
	require.NoError(t, err)
	resp.Body.Close()
	defer conn.Close()
	for _, line := range strings.Split(strings.TrimSpace(string(m[2])), "\n") {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, msg, err := conn.ReadMessage()
		require.NoError(t, err)
		var want, got any
		require.NoError(t, decodeJSON(strings.TrimPrefix(line, "# "), &want))
		require.NoError(t, decodeJSON(string(msg), &got))
		require.NoError(t, matchJSON("message", want, got), string(msg))
	}
}

// migratingGuide writes the README with every line outside the guide's
// section blanked, so that its examples run alone and keep their README
// line numbers, and returns the file's path and text.
func migratingGuide(t *testing.T) (string, []byte) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	lines := strings.Split(string(readme), "\n")
	in, found := false, false
	for i, line := range lines {
		if strings.HasPrefix(line, "## ") {
			in = line == migratingSection
			found = found || in
		}
		if !in {
			lines[i] = ""
		}
	}
	require.True(t, found, "README.md has no section %q", migratingSection)
	guide := []byte(strings.Join(lines, "\n"))
	path := filepath.Join(t.TempDir(), "README.md")
	require.NoError(t, os.WriteFile(path, guide, 0o644))
	return path, guide
}
