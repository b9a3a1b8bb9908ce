package stream

import (
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/taskpulse/taskpulse/internal/httpx"
	"github.com/taskpulse/taskpulse/schema"
)

// querySubs are the subscriptions a connect request names, of each kind.
type querySubs struct {
	progress      []Subscription
	logs          []LogSubscription
	notifications []NotificationSubscription
	controls      []ControlSubscription
}

func (q *querySubs) count() int {
	return len(q.progress) + len(q.logs) + len(q.notifications) + len(q.controls)
}

// mostNamed names the parameter behind most of the subscriptions, for
// an error about their number.
func (q *querySubs) mostNamed() string {
	counts := map[string]int{"logs_task_id": len(q.logs), "notifications_user_id": len(q.notifications)}
	for _, sub := range q.progress {
		switch {
		case sub.TaskID != "":
			counts["task_id"]++
		case sub.UserID != "":
			counts["user_id"]++
		}
	}
	for _, sub := range q.controls {
		if sub.TaskID != "" {
			counts["control_task_id"]++
		} else {
			counts["control_user_id"]++
		}
	}
	most := "task_id"
	for _, name := range connectParams { // in a fixed order, for a stable answer
		if counts[name] > counts[most] {
			most = name
		}
	}
	return most
}

// connectParams are the query parameters of a connect request.
var connectParams = []string{"task_id", "user_id", "all", "logs_task_id", "logs_min_level", "notifications_user_id", "notifications_all", "control_task_id", "control_user_id"}

// querySubscriptions reads ?task_id=a&task_id=b&user_id=u&all=true for
// progress, ?logs_task_id=a&logs_min_level=WARNING for logs (the level
// applies to every task named), and ?notifications_user_id=u or
// ?notifications_all=true for notifications, ?control_task_id=t and
// ?control_user_id=u for control requests. Peeked bytes belong to
// Fiber's request buffer; string() copies them.
func querySubscriptions(c *fiber.Ctx) (querySubs, error) {
	args := c.Context().QueryArgs()
	var q querySubs
	invalidID := func(param string) error {
		return httpx.BadParameter(param, fmt.Sprintf("must be a non-empty id of at most %d bytes", schema.MaxIDLen))
	}

	seen := map[Subscription]bool{}
	add := func(param string, sub Subscription) error {
		if sub.validate() != nil {
			return invalidID(param)
		}
		if !seen[sub] {
			seen[sub] = true
			q.progress = append(q.progress, sub)
		}
		return nil
	}
	for _, v := range args.PeekMulti("task_id") {
		if err := add("task_id", Subscription{TaskID: string(v)}); err != nil {
			return q, err
		}
	}
	for _, v := range args.PeekMulti("user_id") {
		if err := add("user_id", Subscription{UserID: string(v)}); err != nil {
			return q, err
		}
	}
	all, err := queryBool(args.Peek("all"), "all")
	if err != nil {
		return q, err
	}
	if all {
		q.progress = append(q.progress, Subscription{All: true})
	}

	level, ok := parseMinLevel(string(args.Peek("logs_min_level")))
	if !ok {
		return q, httpx.BadParameter("logs_min_level", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
	}
	seenTasks := map[string]bool{}
	for _, v := range args.PeekMulti("logs_task_id") {
		sub := LogSubscription{TaskID: string(v), MinLevel: level}
		if sub.normalize() != nil {
			return q, invalidID("logs_task_id")
		}
		if !seenTasks[sub.TaskID] {
			seenTasks[sub.TaskID] = true
			q.logs = append(q.logs, sub)
		}
	}

	seenUsers := map[string]bool{}
	for _, v := range args.PeekMulti("notifications_user_id") {
		sub := NotificationSubscription{UserID: string(v)}
		if sub.validate() != nil {
			return q, invalidID("notifications_user_id")
		}
		if !seenUsers[sub.UserID] {
			seenUsers[sub.UserID] = true
			q.notifications = append(q.notifications, sub)
		}
	}
	if all, err = queryBool(args.Peek("notifications_all"), "notifications_all"); err != nil {
		return q, err
	}
	if all {
		q.notifications = append(q.notifications, NotificationSubscription{All: true})
	}

	seenControls := map[ControlSubscription]bool{}
	for _, param := range []string{"control_task_id", "control_user_id"} {
		for _, v := range args.PeekMulti(param) {
			sub := ControlSubscription{TaskID: string(v)}
			if param == "control_user_id" {
				sub = ControlSubscription{UserID: string(v)}
			}
			if sub.validate() != nil {
				return q, invalidID(param)
			}
			if !seenControls[sub] {
				seenControls[sub] = true
				q.controls = append(q.controls, sub)
			}
		}
	}
	return q, nil
}

// queryBool reads an optional boolean parameter.
func queryBool(v []byte, param string) (bool, error) {
	if v == nil {
		return false, nil
	}
	b, err := strconv.ParseBool(string(v))
	if err != nil {
		return false, httpx.BadParameter(param, "must be true or false")
	}
	return b, nil
}
