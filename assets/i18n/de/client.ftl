# Lotse-Kundenprogramm — Deutsch.
# Einfache Fluent-Meldungen: `key = Text`, Platzhalter `{ $name }`.

window-title = Lotse Fernhilfe
window-title-site = { $site } — Fernhilfe
status-reconnecting = Verbindung unterbrochen — neuer Versuch…
connecting = Verbindung zum Support wird hergestellt…

button-end-session = Sitzung beenden
tip-end-session = Beendet die Sitzung und entfernt dieses Programm von Ihrem Computer.
button-font-larger = Größere Schrift
tip-font-larger = Größere Chat-Schrift (Strg +)
button-font-smaller = Kleinere Schrift
tip-font-smaller = Kleinere Chat-Schrift (Strg −)

notice-heading = Hinweis vom Support
button-leave = Sitzung verlassen
button-stay = Bleiben

agreement-heading = Bevor es losgeht
button-accept = Zustimmen
button-decline = Ablehnen
recording-heading = Aufzeichnung dieser Sitzung
button-allow = Erlauben
button-dont-allow = Nicht erlauben

name-heading = Wer braucht Hilfe?
name-label = Ihr Name
problem-label = Worum geht es? (optional)
button-join = Hilfe anfordern

queue-joining = Sie werden in die Warteschlange eingereiht…
queue-position = Sie sind Nummer { $position } in der Warteschlange.
queue-wait = Geschätzte Wartezeit: { $wait }.
queue-no-one-online = Gerade ist kein Techniker angemeldet.
wait-under-minute = weniger als eine Minute
wait-minutes = etwa { $minutes } Min.

serving = { $name } hilft Ihnen.
avatar-alt = Foto von { $name }
me = Sie
chat-hint = Nachricht eingeben und Eingabetaste drücken
chat-hint-waiting = Sie können schreiben, sobald ein Techniker Ihre Anfrage übernimmt.
chat-input = Chat-Nachricht
button-send = Senden
button-send-file = Datei senden…
file-dialog-title = Dateien für den Techniker auswählen

note-joined = { $name } ist dem Chat beigetreten.
note-returned = Der Techniker hat Ihre Anfrage in die Warteschlange zurückgegeben. Bitte warten Sie auf den nächsten Techniker.
note-nudged = Der Techniker möchte Ihre Aufmerksamkeit.
note-no-share = Der Techniker wollte Ihren Bildschirm sehen. Diese Programmversion kann den Bildschirm nicht teilen; die Anfrage wurde abgelehnt.
note-no-control = Der Techniker wollte Ihren Computer steuern. Diese Programmversion kann das nicht erlauben; die Anfrage wurde abgelehnt.
note-peer-away = Die Verbindung des Technikers ist unterbrochen; er ist gleich zurück.
note-peer-back = Der Techniker ist wieder da.

file-preparing = wird vorbereitet…
file-offered = wartet auf Annahme durch den Techniker
file-sending = wird gesendet
file-checking = wird geprüft…
file-done = unversehrt angekommen
file-declined = der Techniker hat die Datei abgelehnt
file-cancelled = abgebrochen
file-progress = Fortschritt von { $name }
file-vanished = die Datei wurde beim Senden verschoben, gelöscht oder geändert; nichts wurde behalten
file-unreadable = die Datei kann nicht gelesen werden: { $detail }
file-peer-gone = der Techniker ist nicht mehr verbunden; nichts wurde behalten
file-interrupted = die Verbindung brach ab; nichts wurde behalten — bitte erneut senden
file-corrupted = die Datei kam beschädigt an und wurde verworfen — bitte erneut senden
file-stopped = die Gegenseite hat die Übertragung gestoppt ({ $reason }); nichts wurde behalten
picker-up = Übergeordneter Ordner
picker-path = Zu sendende Datei
picker-send = Diese Datei senden
button-cancel = Abbrechen

survey-heading = Wie zufrieden waren Sie?
survey-rating = { $rating } von 5 Sternen
survey-comment = Kommentar (optional)
button-send-survey = Bewertung senden
button-skip = Überspringen

ending = Sitzung wird beendet…
ended-heading = Die Sitzung ist beendet
ended-removal = Wenn Sie dieses Fenster schließen, entfernt sich das Programm von Ihrem Computer.
button-close = Schließen
end-by-technician = Der Techniker hat die Sitzung beendet.
end-gone = Die Sitzung wurde beendet, weil die Verbindung zu lange unterbrochen war.
end-shutdown = Der Support-Dienst wird heruntergefahren.
end-declined = Sie haben die Vereinbarung abgelehnt.
end-left = Sie haben die Sitzung verlassen.
end-elevated = Die Sitzung geht in einem anderen Fenster weiter.
end-by-me = Sie haben die Sitzung beendet.

failed-heading = Keine Verbindung möglich
failed-stamp-missing = Dieses Programm weiß nicht, welchen Support-Dienst es erreichen soll. Bitte laden Sie es erneut von der Support-Seite herunter.
failed-stamp-altered = Dieses Programm wurde nach dem Herunterladen verändert oder beschädigt. Bitte laden Sie es erneut von der Support-Seite herunter.
failed-stamp-expired = Dieser Download ist abgelaufen. Bitte laden Sie das Programm erneut von der Support-Seite herunter.
failed-stamp-invalid = Dieser Download ist nicht verwendbar. Bitte laden Sie das Programm erneut von der Support-Seite herunter.
failed-own-file = Dieses Programm kann seine eigene Datei nicht lesen ({ $detail }).
failed-certificate = Der Server hat nicht nachgewiesen, dass er der Support-Dienst ist, für den dieses Programm erstellt wurde. Zu Ihrem Schutz wurde keine Verbindung aufgebaut. Bitte laden Sie das Programm erneut von der Support-Seite herunter.
failed-ticket = Der Support-Dienst hat diesen Download nicht angenommen (abgelaufen oder bereits verwendet). Bitte laden Sie ihn erneut herunter.
failed-link = Dieser Link zum Fortsetzen eines Support-Chats gilt nicht mehr (der Chat ist beendet oder der Link wurde schon verwendet). Bitte kehren Sie zur Support-Webseite zurück.
failed-version = Dieses Programm passt nicht zur Version des Support-Dienstes. Bitte laden Sie es erneut herunter.
failed-session-lost = Die Verbindung war zu lange unterbrochen, die Sitzung ist beendet. Bitte laden Sie das Programm erneut herunter, um eine neue Sitzung zu beginnen.
failed-relay = Der Support-Dienst hat die Verbindung beendet: { $detail }

# Bildschirmfreigabe, Fernsteuerung, Anstupsen
prompt-share = { $name } möchte Ihren Bildschirm sehen. Es wird nichts gezeigt, bevor Sie es erlauben und auswählen, was Sie teilen.
prompt-control = { $name } möchte Maus und Tastatur in dem steuern, was Sie teilen. Sie können die Steuerung jederzeit zurücknehmen.
share-picker-heading = Was möchten Sie teilen?
share-picker-loading = Bildschirme und offene Fenster werden gesucht…
share-picker-error = Bildschirme und Fenster konnten nicht aufgelistet werden: { $detail }
share-whole-screen = Den ganzen Bildschirm
share-monitor = Bildschirm { $number } ({ $size })
share-apps = Nur diese Anwendungen (alles andere bleibt schwarz):
share-windows-by-desktop = Einzelne Fenster (Sie wählen sie im Fenster Ihres Desktops)
share-only-screen-here = Dieser Desktop erlaubt Programmen nur, den ganzen Bildschirm zu teilen.
share-desktop-asks-next = Danach fragt Ihr Desktop Sie noch einmal in einem eigenen Fenster. Wählen Sie auch dort; vorher wird nichts geteilt.
share-no-apps = Es wurden keine offenen Anwendungsfenster gefunden.
button-share = Teilen
button-stop-sharing = Freigabe beenden
button-stop-screen-sharing = BILDSCHIRMFREIGABE BEENDEN
button-change-sharing = FREIGABE ÄNDERN
sharing-screen = Der Techniker sieht Ihren Bildschirm.
sharing-apps = Der Techniker sieht nur die Anwendungen, die Sie ausgewählt haben.
sharing-windows = Der Techniker sieht nur die Fenster, die Sie im Dialog Ihres Desktops ausgewählt haben.
preview-heading = Das sieht der Techniker
control-active = Fernsteuerung aktiv: Der Techniker kann Maus und Tastatur benutzen.
button-stop-control = Steuerung zurücknehmen
note-share-asked = Der Techniker möchte Ihren Bildschirm sehen.
note-control-asked = Der Techniker möchte Maus und Tastatur steuern.
note-share-allowed = Sie haben die Bildschirmfreigabe erlaubt.
note-control-allowed = Sie haben die Fernsteuerung erlaubt.
note-share-declined = Sie haben die Bildschirmfreigabe abgelehnt.
note-control-declined = Sie haben die Fernsteuerung abgelehnt.
note-share-stopped = Die Bildschirmfreigabe ist beendet.
note-control-stopped = Die Fernsteuerung ist beendet.
note-paused = Sie haben die Freigabe und die Steuerung angehalten.
note-resumed = Sie haben die Freigabe fortgesetzt.
sharing-paused = Angehalten: Der Techniker sieht nichts und kann nichts steuern.
button-pause = Anhalten
button-resume = Fortsetzen
pause-hint = Hält Bildschirmfreigabe und Steuerung an, z. B. während Sie ein Passwort eingeben.
note-desktop-indicator = Solange Ihr Bildschirm geteilt wird, zeigt Ihr Desktop dies selbst oben in der Leiste an. (Ein Wasserzeichen über anderen Fenstern lässt er nicht zu.)
note-share-failed = Ihr Bildschirm konnte nicht geteilt werden: { $detail }
note-control-needs-share = Der Techniker hat um Steuerung gebeten; das geht nur, während Sie Ihren Bildschirm teilen.
watermark-text = { $site } — Support-Sitzung läuft

# Grenzen der Felder (lotse_protocol::limits) und was der Relay abgelehnt hat.
field-count = { $count } / { $limit } Zeichen
field-full = Die Grenze von { $limit } Zeichen ist erreicht.
trouble-join-refused = Der Support-Dienst hat das nicht angenommen ({ $detail }). Bitte prüfen Sie Ihre Angaben und versuchen Sie es erneut.
trouble-chat-refused = Ihre Nachricht wurde nicht gesendet ({ $detail }). Sie steht wieder im Eingabefeld: kürzen oder ändern Sie sie und senden Sie sie erneut.
trouble-refused = Der Support-Dienst hat das abgelehnt ({ $detail }).
trouble-join-unanswered = Der Support-Dienst hat Ihren Platz in der Warteschlange noch nicht bestätigt. Sie können weiter warten oder die Sitzung beenden.
trouble-connect-unanswered = Der Support-Dienst ist nicht erreichbar. Das Programm versucht es weiter; Sie können warten oder es schließen.
button-keep-waiting = Weiter warten
button-dismiss = OK
file-refused = der Support-Dienst hat die Datei abgelehnt ({ $reason })
