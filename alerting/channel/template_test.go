package channel

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Tenants' templates have no loop but range over labels, no recursion,
// and no function that builds large values.
func TestTenantTemplateBounds(t *testing.T) {
	f := func(tmpl string, ok bool) {
		t.Helper()
		err := CheckTenantTemplate(tmpl)
		if ok {
			require.NoError(t, err, tmpl)
		} else {
			require.Error(t, err, tmpl)
		}
	}
	f(`{{.State}} {{json .Title}} {{range $k, $v := .Labels}}{{$k}}={{$v}} {{end}}`, true)
	f(`{{if eq .State "firing"}}{{range .Channels}}{{range $.Labels}}x{{end}}{{end}}{{end}}`, true)
	f(`{{range .Labels}}{{range $.Labels}}{{range $.Labels}}x{{end}}{{end}}{{end}}`, false)
	f(`{{range 1000000000}}x{{end}}`, false)
	f(`{{range .CreatedAt}}x{{end}}`, false)
	f(`{{with .Labels}}{{range .Labels}}x{{end}}{{end}}`, false)
	f(`{{define "a"}}{{template "a"}}{{end}}{{template "a"}}`, false)
	f(`{{printf "%999999999d" 1}}`, false)
	f(`{{call .X}}`, false)
	f(`{{.State`, false)
}

func TestConfigValidate(t *testing.T) {
	f := func(c Config, fields ...string) {
		t.Helper()
		var got []string
		for _, e := range c.Validate() {
			got = append(got, e.Field)
		}
		require.Equal(t, fields, got, "%+v", c)
	}
	f(Config{Type: TypeWebhook, URL: "https://hooks.example/x"})
	f(Config{Type: TypeWebhook, URL: "ftp://hooks.example/x", Template: "{{.State"}, "url", "template")
	f(Config{Type: TypeSlack}, "url")
	f(Config{Type: TypeEmail, SMTP: "mail.example:25", From: "a@example.com", To: []string{"b@example.com"}})
	f(Config{Type: TypeEmail, SMTP: "mail.example", TLSCAFile: "/nonexistent"}, "smtp", "from", "to", "tls_ca_file")
	f(Config{Type: "pager", Timeout: -1}, "timeout", "type")
	f(Config{}, "type")

	_, err := New(Config{Type: TypeSlack}, Transport{})
	require.ErrorContains(t, err, "url is required")
}
