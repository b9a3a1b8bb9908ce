package query

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/auth"
	"github.com/taskpulse/taskpulse/internal/httpx"
)

// exportFormat is how an export is written.
type exportFormat struct {
	contentType string
	// begin, row and end frame the rows; JSON is one array, NDJSON one
	// object a line, CSV a header then a record a line.
	begin func(w *bufio.Writer, columns []string) error
	row   func(w *bufio.Writer, first bool, r exportRow) error
	end   func(w *bufio.Writer) error
}

// exportRow is one exported item: its API object for JSON and NDJSON, its
// cells for CSV.
type exportRow struct {
	object any
	cells  []cell
}

// cell is one CSV value. A number is one the server formatted (a
// timestamp, a duration, a metric value) and is written as it is, a
// negative one too, so that spreadsheets still read it as a number. Any
// other cell is text a client may have chosen (an id, a name, a message,
// an attribute), which writeCSV neutralises.
type cell struct {
	value  string
	number bool
}

func text(s string) cell { return cell{value: s} }

// pager returns the next page of an export, and whether it was the last.
type pager func(ctx context.Context) (rows []exportRow, done bool, err error)

// exportSource is one kind of data an export can hold: its parameters,
// and how to read it page by page, with its CSV columns, which are known
// once the first page is read.
type exportSource struct {
	params  []string
	prepare func(s *Service, p *params, tenant string) (pager, func() []string, error)
}

var exportSources = map[string]exportSource{
	"tasks":  {params: taskParams, prepare: (*Service).exportTasks},
	"events": {params: append(slices.Clone(taskParams), "task_id"), prepare: (*Service).exportEvents},
	"logs":   {params: logParams, prepare: (*Service).exportLogs},
	"series": {params: seriesParams, prepare: (*Service).exportSeries},
}

var exportFormats = map[string]exportFormat{
	"json": {
		contentType: fiber.MIMEApplicationJSON,
		begin:       func(w *bufio.Writer, _ []string) error { return w.WriteByte('[') },
		row: func(w *bufio.Writer, first bool, r exportRow) error {
			if !first {
				w.WriteString(",\n")
			}
			return writeJSON(w, r.object)
		},
		end: func(w *bufio.Writer) error { _, err := w.WriteString("]\n"); return err },
	},
	"ndjson": {
		contentType: "application/x-ndjson",
		begin:       func(*bufio.Writer, []string) error { return nil },
		row: func(w *bufio.Writer, _ bool, r exportRow) error {
			if err := writeJSON(w, r.object); err != nil {
				return err
			}
			return w.WriteByte('\n')
		},
		end: func(*bufio.Writer) error { return nil },
	},
	"csv": {
		contentType: "text/csv; charset=utf-8",
		begin: func(w *bufio.Writer, columns []string) error {
			// Series columns are label names, which clients choose.
			header := make([]cell, len(columns))
			for i, c := range columns {
				header[i] = text(c)
			}
			return writeCSV(w, header)
		},
		row: func(w *bufio.Writer, _ bool, r exportRow) error { return writeCSV(w, r.cells) },
		end: func(*bufio.Writer) error { return nil },
	},
}

func writeJSON(w *bufio.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func writeCSV(w *bufio.Writer, cells []cell) error {
	record := make([]string, len(cells))
	for i, c := range cells {
		record[i] = c.value
		if !c.number {
			record[i] = neutralise(c.value)
		}
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(record); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// neutralise keeps a spreadsheet from reading text as a formula, as OWASP
// recommends against CSV injection: a cell that starts with =, +, -, @,
// a tab or a carriage return gets a leading single quote, which
// spreadsheets take as "this is text".
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// export streams every item a query selects, page by page from the store,
// with no cap. The first page is read before the answer starts, so that a
// store that cannot answer gets a 503; a failure after that ends the body
// early, and a JSON export is then left unclosed so that no client takes
// it for a whole one.
func (s *Service) export(c *fiber.Ctx) error {
	args := httpx.QueryArgs(c)
	what, err := oneOf(args, "what", slices.Sorted(maps.Keys(exportSources)), "")
	if err != nil {
		return err
	}
	format, err := oneOf(args, "format", []string{"csv", "json", "ndjson"}, "json")
	if err != nil {
		return err
	}
	src, f := exportSources[what], exportFormats[format]
	p, err := paramsFrom(args, append([]string{"what", "format"}, src.params...)...)
	if err != nil {
		return err
	}
	next, columns, err := src.prepare(s, p, auth.Tenant(c))
	if err != nil {
		return err
	}
	// The body is written after the handler returns, when the request's
	// context is gone; the export stops when the client does.
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.UserContext()))
	first, done, err := next(ctx)
	if err != nil {
		cancel()
		return s.storeError(err)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="taskpulse-`+what+`.`+format+`"`)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		if err := s.streamExport(ctx, w, f, columns(), first, done, next); err != nil {
			s.log.Warn("export ended early", "what", what, "err", err)
		}
	})
	return nil
}

func (s *Service) streamExport(ctx context.Context, w *bufio.Writer, f exportFormat, columns []string, rows []exportRow, done bool, next pager) error {
	if err := f.begin(w, columns); err != nil {
		return err
	}
	first := true
	for {
		for _, r := range rows {
			if err := f.row(w, first, r); err != nil {
				return err
			}
			first = false
		}
		// A failed flush is a client that went away.
		if err := w.Flush(); err != nil {
			return err
		}
		if done {
			break
		}
		var err error
		if rows, done, err = next(ctx); err != nil {
			return err
		}
	}
	if err := f.end(w); err != nil {
		return err
	}
	return w.Flush()
}

// oneOf reads a single-valued parameter that must be one of allowed.
func oneOf(args map[string][]string, name string, allowed []string, fallback string) (string, error) {
	vs := args[name]
	switch {
	case len(vs) > 1:
		return "", httpx.BadParameter(name, "must be given once")
	case len(vs) == 0 && fallback != "":
		return fallback, nil
	case len(vs) == 0 || !slices.Contains(allowed, vs[0]):
		return "", httpx.BadParameter(name, "must be one of "+strings.Join(allowed, ", "))
	}
	return vs[0], nil
}
