package channel

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"text/template"
	"text/template/parse"
)

// maxRendered caps a rendered webhook body. A notification is a few
// kilobytes; nothing a receiver needs comes near this.
const maxRendered = 256 << 10

// parseTemplate adds json, which quotes a value for use inside a JSON
// template, the usual need of a webhook body.
func parseTemplate(text string) (*template.Template, error) {
	return template.New("webhook").Option("missingkey=error").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(text)
}

// cappedWriter fails a write that would take it past its limit.
type cappedWriter struct {
	buf []byte
	max int
}

var errTooLarge = errors.New("the rendered body is over " + fmt.Sprint(maxRendered>>10) + " KiB")

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.max {
		return 0, errTooLarge
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// tenantFuncs are the functions a tenant's template may call: none of
// them makes output or work much larger than its arguments, which
// printf (with a width) and call would.
var tenantFuncs = []string{"json", "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice",
	"print", "println", "html", "js", "urlquery"}

// maxRangeDepth bounds nested range actions: each multiplies the work by
// the number of labels.
const maxRangeDepth = 2

// CheckTenantTemplate refuses a webhook template whose rendering a
// tenant could make cost without bound. A template has no loop but range,
// so it allows range only over the notification's labels and channels,
// at most two deep, and neither nested templates (which recurse) nor
// functions that build large values.
func CheckTenantTemplate(text string) error {
	t, err := parseTemplate(text)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	if len(t.Templates()) > 1 {
		return errors.New("must not define templates")
	}
	return checkNode(t.Tree.Root, false, 0)
}

func checkNode(n parse.Node, rebound bool, ranges int) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, rebound, ranges); err != nil {
				return err
			}
		}
	case *parse.TextNode, *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
	case *parse.ActionNode:
		return checkPipe(n.Pipe)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, rebound, rebound, ranges)
	case *parse.WithNode:
		// Inside with, dot is whatever the pipeline gave.
		return checkBranch(&n.BranchNode, true, rebound, ranges)
	case *parse.RangeNode:
		if ranges >= maxRangeDepth {
			return fmt.Errorf("must not nest range more than %d deep", maxRangeDepth)
		}
		if !rangeable(n.Pipe, rebound) {
			return errors.New("may range only over .Labels or .Channels")
		}
		if err := checkNode(n.List, true, ranges+1); err != nil {
			return err
		}
		return checkNode(n.ElseList, rebound, ranges)
	case *parse.TemplateNode:
		return errors.New("must not call templates")
	default:
		return fmt.Errorf("must not use %s", n)
	}
	return nil
}

func checkBranch(b *parse.BranchNode, inner, outer bool, ranges int) error {
	if err := checkPipe(b.Pipe); err != nil {
		return err
	}
	if err := checkNode(b.List, inner, ranges); err != nil {
		return err
	}
	return checkNode(b.ElseList, outer, ranges)
}

// rangeable reports whether a range pipeline is .Labels or .Channels of
// the notification: $.X anywhere, .X where dot is still the notification.
func rangeable(p *parse.PipeNode, rebound bool) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	ok := func(ident []string) bool {
		return len(ident) == 1 && (ident[0] == "Labels" || ident[0] == "Channels")
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return !rebound && ok(a.Ident)
	case *parse.VariableNode:
		return len(a.Ident) == 2 && a.Ident[0] == "$" && ok(a.Ident[1:])
	}
	return false
}

func checkPipe(p *parse.PipeNode) error {
	if p == nil {
		return nil
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			if err := checkArg(a); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkArg(a parse.Node) error {
	switch a := a.(type) {
	case *parse.IdentifierNode:
		if !slices.Contains(tenantFuncs, a.Ident) {
			return fmt.Errorf("must not call %s (allowed: %v)", a.Ident, tenantFuncs)
		}
	case *parse.PipeNode:
		return checkPipe(a)
	case *parse.ChainNode:
		return checkArg(a.Node)
	}
	return nil
}
