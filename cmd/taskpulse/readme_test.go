package main

// The shell examples of README.md are a test, so that what a new user
// types first does what the README says. The convention, also written at
// the top of README.md:
//
//   - Every ```sh block runs, in order, each in its own bash (-e, pipefail),
//     against one fresh `taskpulse serve --alert-channel-allow 127.0.0.1`
//     built from this tree; localhost:8080 and 127.0.0.1:8080 are replaced
//     by its address, and `go run ./cmd/taskpulse` by the built binary.
//   - A block right after the line <!-- readme-test: skip --> is not run
//     (make test, docker compose, anything needing Kafka or ClickHouse).
//   - Every curl must get a 2xx, unless its expected answer says otherwise.
//   - A full-line comment that starts with JSON, or with a status and then
//     JSON (# 400 {"error":...}), is the expected answer of the last command
//     above it: the status must be the same, and so must every field the
//     JSON shows; fields it leaves out are not checked, and the string "…"
//     stands for a value that varies but must be there. Arrays must have
//     as many elements as shown.
//   - Each curl's answer is read from the block's output: a curlrc in
//     CURL_HOME makes curl follow every answer with a line holding its
//     status, so an example must not capture a curl's output ($(curl ...)).
//
// A block that only reads (no -d, --data or -X) is run again until its
// answers match, for at most readmeSettle: the writer stores events a
// moment after they are acknowledged, and alerting turns them into
// notifications a moment after that.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	readmeSkip = "<!-- readme-test: skip -->"
	// readmeSettle bounds how long a read-only step may take to see what
	// the steps before it wrote.
	readmeSettle = 30 * time.Second
	// curlStatus follows each curl answer: its status on a line of its own.
	curlStatus = "\n<<readme-test status %{http_code}>>\n"
)

var (
	// expectLine is an expected answer: "# 201 {...}", "# {...}" or "# 404".
	expectLine   = regexp.MustCompile(`^# (?:(\d{3})(?: |$))?([\[{].*)?$`)
	statusLine   = regexp.MustCompile(`\n?<<readme-test status (\d{3})>>\n`)
	writesInStep = regexp.MustCompile(`(^|\s)(-d|--data\S*|-X|--request)\s`)
)

// readmeExample is one ```sh block, cut into steps at expected answers.
type readmeExample struct {
	line  int // of the opening fence
	steps []readmeStep
}

// readmeStep is the commands up to an expected answer, or the block's
// last commands, which have none.
type readmeStep struct {
	line   int // of the expected answer, or the block's end
	script string
	status int    // 0: any 2xx
	want   string // JSON, or "" when the answer is not checked
}

func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a server")
	}
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is needed to run the README's examples", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	examples := readmeExamples(t, filepath.Join("..", "..", "README.md"))
	require.NotEmpty(t, examples)

	bin, err := buildBinary()
	require.NoError(t, err)
	addr := strings.TrimPrefix(startBinary(t, t.TempDir(), "--alert-channel-allow", "127.0.0.1").base, "http://")

	work := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(work, ".curlrc"), []byte("write-out = "+strconv.Quote(curlStatus)+"\n"), 0o644))
	env := append(os.Environ(), "CURL_HOME="+work)
	subst := strings.NewReplacer("localhost:8080", addr, "127.0.0.1:8080", addr, "go run ./cmd/taskpulse", bin)

	for _, ex := range examples {
		for _, step := range ex.steps {
			step.script = subst.Replace(step.script)
			deadline := time.Now().Add(readmeSettle)
			for {
				err = step.run(work, env)
				if err == nil || writesInStep.MatchString(step.script) || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("README.md:%d (block at line %d): %v\n--- script\n%s", step.line, ex.line, err, step.script)
			}
		}
	}
}

// readmeExamples reads the ```sh blocks of the README at path, but those
// marked to be skipped.
func readmeExamples(t *testing.T, path string) []readmeExample {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var (
		examples []readmeExample
		cur      *readmeExample
		script   strings.Builder
		skip     bool
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && line == "```sh":
			if !skip {
				cur = &readmeExample{line: n}
			}
			skip = false
		case cur == nil:
			if strings.TrimSpace(line) != "" {
				skip = line == readmeSkip
			}
		case line == "```":
			if strings.TrimSpace(script.String()) != "" {
				cur.steps = append(cur.steps, readmeStep{line: n, script: script.String()})
			}
			examples = append(examples, *cur)
			cur = nil
			script.Reset()
		default:
			m := expectLine.FindStringSubmatch(line)
			if m == nil || m[1] == "" && m[2] == "" {
				script.WriteString(line + "\n")
				break
			}
			step := readmeStep{line: n, script: script.String(), want: m[2]}
			if m[1] != "" {
				step.status, _ = strconv.Atoi(m[1])
			}
			if step.want != "" {
				require.True(t, json.Valid([]byte(step.want)), "README.md:%d: the expected answer is not JSON", n)
			}
			cur.steps = append(cur.steps, step)
			script.Reset()
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "README.md: a ```sh block is not closed")
	return examples
}

// run runs the step's commands and checks their answers.
func (s readmeStep) run(dir string, env []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", s.script)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n--- stdout\n%s\n--- stderr\n%s", err, stdout.String(), stderr.String())
	}
	answers := splitAnswers(stdout.String())
	last := answers[len(answers)-1]
	for _, a := range answers[:len(answers)-1] {
		if a.status/100 != 2 {
			return fmt.Errorf("a curl got %d: %s", a.status, a.body)
		}
	}
	switch {
	case s.status != 0 && last.status != s.status:
		return fmt.Errorf("status %d, want %d: %s", last.status, s.status, last.body)
	case s.status == 0 && last.status != 0 && last.status/100 != 2:
		return fmt.Errorf("a curl got %d: %s", last.status, last.body)
	case s.want == "":
		return nil
	}
	var want, got any
	if err := decodeJSON(s.want, &want); err != nil {
		return err
	}
	if err := decodeJSON(last.body, &got); err != nil {
		return fmt.Errorf("the answer is not JSON (%v): %s", err, last.body)
	}
	if err := matchJSON("answer", want, got); err != nil {
		return fmt.Errorf("%w\n--- answer\n%s", err, last.body)
	}
	return nil
}

// readmeAnswer is one command's output: a curl's, with its status, or
// that of commands other than curl, with status 0.
type readmeAnswer struct {
	status int
	body   string
}

// splitAnswers cuts a step's output at the status lines curl writes
// after each answer.
func splitAnswers(out string) []readmeAnswer {
	var answers []readmeAnswer
	for {
		loc := statusLine.FindStringSubmatchIndex(out)
		if loc == nil {
			break
		}
		status, _ := strconv.Atoi(out[loc[2]:loc[3]])
		answers = append(answers, readmeAnswer{status: status, body: strings.TrimSpace(out[:loc[0]])})
		out = out[loc[1]:]
	}
	if rest := strings.TrimSpace(out); rest != "" || len(answers) == 0 {
		answers = append(answers, readmeAnswer{body: rest})
	}
	return answers
}

func decodeJSON(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	return dec.Decode(v)
}

// matchJSON checks that got has every field of want with the same value;
// "…" in want matches any value.
func matchJSON(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is %v, want an object", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s is missing", path, k)
			}
			if err := matchJSON(path+"."+k, wv, gv); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s is %v, want %d elements", path, got, len(w))
		}
		for i := range w {
			if err := matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
		return nil
	case string:
		if w == "…" {
			return nil
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return fmt.Errorf("%s is %v, want %v", path, got, want)
	}
	return nil
}

// The command line as the Quick start tells of it: help on stdout and
// success, a mistake named in one line with where to look, and a busy
// address named with what to do.
func TestCommandLine(t *testing.T) {
	bin, err := buildBinary()
	require.NoError(t, err)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()

	f := func(wantCode int, wantOut, wantErr string, args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = t.TempDir(), &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else {
			require.NoError(t, err)
		}
		require.Equal(t, wantCode, code, "taskpulse %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		require.Contains(t, stdout.String(), wantOut)
		if wantErr == "" {
			require.Empty(t, stderr.String())
		} else {
			// A mistake is named, then where to look; an error is one line.
			require.Contains(t, stderr.String(), wantErr)
			require.Equal(t, min(wantCode, 2), strings.Count(stderr.String(), "\n"), stderr.String())
		}
	}
	f(0, "commands:\n  serve", "", "--help")
	f(0, "commands:\n  serve", "", "help")
	f(0, "usage: taskpulse serve [flags]", "", "serve", "--help")
	f(0, "commands:", "", "-h")
	f(0, "-listen", "", "--data-dir", "x", "--help")
	f(0, "-clickhouse-addr", "", "migrate", "--help")
	f(2, "", "taskpulse serve: flag provided but not defined: -lisen\nRun \"taskpulse serve --help\" for help.\n", "--lisen", "127.0.0.1:9090")
	f(2, "", "taskpulse: unknown command \"serv\"\nRun \"taskpulse --help\" for help.\n", "serv")
	f(2, "", "taskpulse watch: want one URL", "watch")
	f(1, "", "cannot listen on "+busy.Addr().String()+": another process is using that address; stop it, or give another with --listen", "--listen", busy.Addr().String())

	// The tools that open only a store offer no bus flags.
	for _, tool := range []string{"migrate", "datagen", "querybench"} {
		help, err := exec.Command(bin, tool, "--help").Output()
		require.NoError(t, err)
		require.Contains(t, string(help), "-store")
		require.NotContains(t, string(help), "kafka", tool)
	}
}
