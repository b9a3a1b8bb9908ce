package stream

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskpulse/taskpulse/schema"
)

// A notification reaches the connections of its tenant that opted in to
// its user or to all, once each, even when the bus delivers it again.
func TestNotificationsToOptedInUsersOnce(t *testing.T) {
	b := newTestBus()
	h := start(t, Config{}, b, &fixedStore{})
	u1 := h.dial(t, "api_key="+keyA+"&notifications_user_id=u1")
	u2 := h.dial(t, "api_key="+keyA)
	all := h.dial(t, "api_key="+keyA+"&notifications_all=true&notifications_user_id=u1")
	otherTenant := h.dial(t, "api_key="+keyB+"&notifications_user_id=u1")
	progressOnly := h.dial(t, "api_key="+keyA+"&all=true")

	require.Equal(t, &NotificationSubscription{UserID: "u1"}, readType(t, u1, TypeSubscribed).Notifications)
	send(t, u2, `{"type":"subscribe","notifications":{"user_id":"u2"}}`)
	require.Equal(t, &NotificationSubscription{UserID: "u2"}, readType(t, u2, TypeSubscribed).Notifications)
	require.Equal(t, &NotificationSubscription{UserID: "u1"}, readType(t, all, TypeSubscribed).Notifications)
	require.Equal(t, &NotificationSubscription{All: true}, readType(t, all, TypeSubscribed).Notifications)
	readType(t, otherTenant, TypeSubscribed)
	readType(t, progressOnly, TypeSnapshot)

	publish := func(ns ...schema.Notification) {
		t.Helper()
		b.publishRecords(t, notificationRecords(t, ns...)...)
	}
	publish(
		notification(tenantA, "n1", "u1"),
		notification(tenantA, "n2", "u2"),
		notification(tenantB, "n1", "u1"), // another tenant may reuse an id
		notification(tenantA, "n1", "u1"), // redelivered
		notification(tenantA, "n3", ""),   // for the tenant, no user
	)
	publish(notification(tenantA, "n2", "u2")) // redelivered in a later batch
	publish(
		notification(tenantA, "n4", "u1"),
		notification(tenantA, "n5", "u2"),
		notification(tenantB, "n6", "u1"),
	)
	b.publish(t, progress(tenantA, "t1", "u1", 1000, 0, "progress"))

	for _, c := range []struct {
		name string
		got  func() string
		want []string
	}{
		{"u1", func() string { return readNotification(t, u1) }, []string{"n1", "n4"}},
		{"u2", func() string { return readNotification(t, u2) }, []string{"n2", "n5"}},
		{"all", func() string { return readNotification(t, all) }, []string{"n1", "n2", "n3", "n4", "n5"}},
		{"other tenant", func() string { return readNotification(t, otherTenant) }, []string{"n1", "n6"}},
	} {
		for _, want := range c.want {
			require.Equal(t, want, c.got(), c.name)
		}
	}
	require.Equal(t, "progress", readProgress(t, progressOnly))
	require.Equal(t, 2.0, dropped(h.svc, reasonDuplicate))

	send(t, u1, `{"type":"unsubscribe","notifications":{"user_id":"u1"}}`)
	require.Equal(t, &NotificationSubscription{UserID: "u1"}, readType(t, u1, TypeUnsubscribed).Notifications)
	send(t, u1, `{"type":"subscribe","logs":{"task_id":"t1"}}`)
	readType(t, u1, TypeSubscribed)
	publish(notification(tenantA, "n7", "u1"))
	b.publishRecords(t, logRecords(t, logEntry(tenantA, "t1", schema.LevelInfo, 2000, "after n7"))...)
	require.Equal(t, "after n7", readLog(t, u1), "no notification after unsubscribing")
	require.Equal(t, "n7", readNotification(t, all))

	for msg, code := range map[string]string{
		`{"type":"subscribe","notifications":{}}`:                         CodeInvalidMessage,
		`{"type":"subscribe","notifications":{"user_id":"u","all":true}}`: CodeInvalidMessage,
		`{"type":"subscribe","notifications":{"all":true}}`:               CodeAlreadySubscribed,
		`{"type":"unsubscribe","notifications":{"user_id":"u9"}}`:         CodeNotSubscribed,
	} {
		send(t, all, msg)
		require.Equal(t, code, readType(t, all, TypeError).Code, msg)
	}
}
