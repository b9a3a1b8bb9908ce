package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskpulse/taskpulse/alerting"
	"github.com/taskpulse/taskpulse/internal/store"
)

// startAlerting mounts the alerting API on api and returns what runs it:
// evaluation and delivery, and a reload of the rules file on SIGHUP.
func startAlerting(s *settings, be *backends, reg prometheus.Registerer, log *slog.Logger, api fiber.Router) (func(context.Context) error, error) {
	docs, ok := be.store.(store.DocumentStore)
	if !ok {
		return nil, fmt.Errorf("alerting keeps its rules and alerts in the store, and the %s store keeps no documents", be.storeName)
	}
	deps := alerting.Deps{Bus: be.bus, Documents: docs, Tasks: be.store, Registerer: reg, Logger: log}
	deps.Series, _ = be.store.(alerting.SeriesReader)
	deps.Logs, _ = be.store.(alerting.LogReader)
	cfg := alerting.Config{RulesFile: s.alertRules, ChannelAllow: s.alertChannelAllow, ChannelDeny: s.alertChannelDeny}
	svc, err := alerting.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	svc.Routes(api)
	be.checks["alerting"] = svc.Ready
	return func(ctx context.Context) error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					// A refused file is logged by Reload; the rules
					// loaded before keep running.
					_ = svc.Reload()
				}
			}
		}()
		return svc.Run(ctx)
	}, nil
}
