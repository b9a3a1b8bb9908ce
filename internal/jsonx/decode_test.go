package jsonx

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type inner struct {
	Query string `json:"query"`
}

type Embedded struct {
	Note string `json:"note"`
}

type target struct {
	Embedded
	Status string            `json:"status"`
	Count  int               `json:"count"`
	Labels map[string]string `json:"labels"`
	Panels []inner           `json:"panels"`
	When   *time.Time        `json:"when"`
	Hidden string            `json:"-"`
}

func TestDecode(t *testing.T) {
	f := func(body, wantField, wantReason string) {
		t.Helper()
		var v target
		err := Decode([]byte(body), &v)
		if wantField == "" {
			if err != nil {
				t.Errorf("Decode(%q) = %v, want nil", body, err)
			}
			return
		}
		ps, ok := err.(Problems)
		if !ok || len(ps) != 1 || ps[0].Field != wantField || !strings.Contains(ps[0].Reason, wantReason) {
			t.Errorf("Decode(%q) = %v, want %s %s", body, err, wantField, wantReason)
		}
	}
	f(`{"status":"running","count":2,"labels":{"Site":"x"},"panels":[{"query":"q"}],"note":"n"}`, "", "")
	f(`{"ſtatus":"running"}`, "ſtatus", "is not a known field")
	f(`{"Status":"running"}`, "Status", "is not a known field")
	f(`{"panels":[{"query":"q"},{"QUERY":"q"}]}`, "panels[1].QUERY", "is not a known field")
	f(`{"Note":"n"}`, "Note", "is not a known field")
	f(`{"Hidden":"x"}`, "Hidden", "is not a known field")
	f(`{"status":"a"} {"status":"b"}`, "body", "has data after the JSON value")
	f(`{"status":"a"}x`, "body", "has data after the JSON value")
	f("{\"status\":\"\xff\"}", "status", "must be valid UTF-8")
	f(`{"panels":[{"query":"\ud800"}]}`, "panels[0].query", "must be valid UTF-8")
	f(`{"status":"\ud83d\ude00"}`, "", "")
	f("{\"status\":1,\xff}", "body", "is not valid UTF-8")
	f(`{"count":"two"}`, "count", "must be a JSON number, not string")
	f(`{"status":`, "body", "is not valid JSON")
	f(``, "body", "is empty")
	f(`{"":1}`, "body", "has a field with an empty name")
	f(`{"when":"yesterday"}`, "body", "has a value that is not valid")
	f(`[1]`, "body", "must be a JSON object, not array")
	f(`{"count":1e400}`, "count", "is out of range: number 1e400")
	f(`{"count":3000000000000000000000}`, "count", "is out of range")
}

// An unknown field hides nothing: every one is named, by path, and so is
// a value of a known field that does not fit.
func TestDecodeNamesEveryProblem(t *testing.T) {
	var v target
	err := Decode([]byte(`{"stauts":"running","count":"two","panels":[{"qeury":"q"}],"Count":1,"labels":{"a":"b"}}`), &v)
	want := Problems{
		{"Count", "is not a known field"},
		{"panels[0].qeury", "is not a known field"},
		{"stauts", "is not a known field"},
		{"count", "must be a JSON number, not string"},
	}
	if fmt.Sprint(err) != fmt.Sprint(want) {
		t.Fatalf("Decode = %v, want %v", err, want)
	}
	if v.Labels["a"] != "b" {
		t.Errorf("the known fields were not decoded: %+v", v)
	}
}

func BenchmarkDecode(b *testing.B) {
	for name, body := range map[string]string{
		"valid":   `{"note":"n","status":"running","count":3,"labels":{"a":"b","c":"d"},"panels":[{"query":"q1"},{"query":"q2"}],"when":"2026-12-04T00:00:00Z"}`,
		"unknown": `{"note":"n","stauts":"running","count":3,"labels":{"a":"b","c":"d"},"panels":[{"query":"q1"},{"qeury":"q2"}],"when":"2026-12-04T00:00:00Z"}`,
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v target
				_ = Decode([]byte(body), &v)
			}
		})
	}
}
