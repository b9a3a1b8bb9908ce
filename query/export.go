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
	"github.com/taskpulse/taskpulse/internal/store"
	"github.com/taskpulse/taskpulse/schema"
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

// walker reads an export's rows from the store in order and hands each
// to emit, stopping at the first error emit returns.
type walker func(ctx context.Context, emit func(exportRow) error) error

// exportSource is one kind of data an export can hold: its parameters,
// and how to walk it, with its CSV columns, which are known once the first
// row is read.
type exportSource struct {
	params  []string
	prepare func(s *Service, p *params, tenant string) (walker, func() []string, error)
}

// Exporter is the part of a store an export reads: each selection in one
// walk that costs about what reading it once does. A store.Store is one.
type Exporter interface {
	StreamTasks(ctx context.Context, f store.TaskFilter, fn func(store.Task) error) error
	StreamLogs(ctx context.Context, f store.LogFilter, fn func(schema.Log) error) error
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

// export streams every item a query selects, in one walk of the store,
// with no cap. The store is read on its own goroutine, some batches of rows
// ahead of the writer, so that reading and encoding overlap while a slow
// client holds back the store's reads rather than piling rows up. The
// first batch is read before the answer starts, so that a store that
// cannot answer gets a 503. A failure after that closes the connection
// before the body's last chunk, which every HTTP client reports as a body
// cut short, so that no client takes what came for a whole export, a CSV
// or NDJSON one ending on a whole row included; a JSON export is left
// unclosed as well.
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
	walk, columns, err := src.prepare(s, p, auth.Tenant(c))
	if err != nil {
		return err
	}
	// The body is written after the handler returns, when the request's
	// context is gone; the export stops when the client does.
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.UserContext()))
	rows := readAhead(ctx, walk)
	first, ok := <-rows.batches
	if !ok && rows.err != nil {
		cancel()
		return s.storeError(rows.err)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="taskpulse-`+what+`.`+format+`"`)
	conn := c.Context().Conn()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		if err := writeExport(w, f, columns(), first, rows); err != nil {
			s.log.Warn("export ended early", "what", what, "err", err)
			conn.Close()
		}
	})
	return nil
}

// exportBatch is how many rows the store's reader hands the writer at a
// time; the writer flushes after each one. Up to readAheadBatches wait
// between them, enough for the reader to hand over a whole page of the
// store's and read the next while the writer writes, and few enough that
// an export holds some megabytes at most.
const (
	exportBatch      = 1000
	readAheadBatches = 16
)

// rowBatches are the rows of an export as its reader hands them over. err
// is the walk's end, set before batches is closed.
type rowBatches struct {
	batches chan []exportRow
	err     error
}

// readAhead walks the store on a goroutine of its own, sending batches of
// rows as they fill. It ends when the walk does, or when ctx ends.
func readAhead(ctx context.Context, walk walker) *rowBatches {
	r := &rowBatches{batches: make(chan []exportRow, readAheadBatches)}
	go func() {
		defer close(r.batches)
		batch := make([]exportRow, 0, exportBatch)
		send := func() error {
			select {
			case r.batches <- batch:
				batch = make([]exportRow, 0, exportBatch)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := walk(ctx, func(row exportRow) error {
			if batch = append(batch, row); len(batch) < exportBatch {
				return nil
			}
			return send()
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		r.err = err
	}()
	return r
}

// writeExport writes first, then every batch that follows, and closes the
// export when the walk ended well.
func writeExport(w *bufio.Writer, f exportFormat, columns []string, first []exportRow, rows *rowBatches) error {
	if err := f.begin(w, columns); err != nil {
		return err
	}
	n := 0
	for batch, ok := first, first != nil; ok; batch, ok = <-rows.batches {
		for _, r := range batch {
			if err := f.row(w, n == 0, r); err != nil {
				return err
			}
			n++
		}
		// A failed flush is a client that went away.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if rows.err != nil {
		return rows.err
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
