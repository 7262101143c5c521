# Lotse customer client — English.
# Simple Fluent messages: `key = text`, placeholders `{ $name }`.

window-title = Lotse remote support
window-title-site = { $site } — remote support
status-reconnecting = Connection lost — reconnecting…
connecting = Connecting to the support service…

button-end-session = End session
tip-end-session = Ends the session and removes this program from your computer.
button-font-larger = Larger text
tip-font-larger = Larger chat text (Ctrl +)
button-font-smaller = Smaller text
tip-font-smaller = Smaller chat text (Ctrl −)

notice-heading = Notice from support
button-leave = Leave the session
button-stay = Stay

agreement-heading = Before we start
button-accept = Accept
button-decline = Decline
recording-heading = Recording of this session
button-allow = Allow
button-dont-allow = Do not allow

name-heading = Who needs help?
name-label = Your name
problem-label = What is the problem? (optional)
button-join = Request support

queue-joining = Joining the queue…
queue-position = You are number { $position } in the queue.
queue-wait = Estimated wait: { $wait }.
queue-no-one-online = No technician is online right now.
wait-under-minute = less than a minute
wait-minutes = about { $minutes } min

serving = { $name } is helping you.
avatar-alt = Photo of { $name }
me = You
chat-hint = Type a message and press Enter
chat-hint-waiting = You can chat as soon as a technician takes your request.
chat-input = Chat message
button-send = Send
button-send-file = Send file…
file-dialog-title = Choose files to send to the technician

note-joined = { $name } joined the chat.
note-returned = The technician put your request back into the queue. Please wait for the next technician.
note-nudged = The technician is trying to get your attention.
note-no-share = The technician asked to see your screen. This version of the program cannot share the screen, so the request was declined.
note-no-control = The technician asked to control your computer. This version of the program cannot allow that, so the request was declined.
note-peer-away = The technician's connection dropped; they will be back shortly.
note-peer-back = The technician is back.

file-preparing = preparing…
file-offered = waiting for the technician to accept
file-sending = sending
file-checking = checking…
file-done = arrived intact
file-declined = the technician declined the file
file-cancelled = cancelled
file-progress = Progress of { $name }
file-vanished = the file was moved, deleted or changed while sending; nothing was kept
file-unreadable = the file cannot be read: { $detail }
file-peer-gone = the technician is no longer connected; nothing was kept
file-interrupted = the connection dropped; nothing was kept — please send it again
file-corrupted = the file arrived damaged and was discarded — please send it again
file-stopped = the technician's side stopped the transfer ({ $reason }); nothing was kept
picker-up = Parent folder
picker-path = File to send
picker-send = Send this file
button-cancel = Cancel

survey-heading = How did we do?
survey-rating = { $rating } of 5 stars
survey-comment = Comment (optional)
button-send-survey = Send rating
button-skip = Skip

ending = Ending the session…
ended-heading = The session has ended
ended-removal = When you close this window, this program removes itself from your computer.
button-close = Close
end-by-technician = The technician ended the session.
end-gone = The session ended because the connection was gone for too long.
end-shutdown = The support service is shutting down.
end-declined = You declined the agreement.
end-left = You left the session.
end-elevated = The session continues in another window.
end-by-me = You ended the session.

failed-heading = Cannot connect
failed-stamp-missing = This program does not know which support service to contact. Please download it again from the support page.
failed-stamp-altered = This program was changed or damaged after the download. Please download it again from the support page.
failed-stamp-expired = This download has expired. Please download it again from the support page.
failed-stamp-invalid = This download is not usable. Please download it again from the support page.
failed-own-file = This program cannot read its own file ({ $detail }).
failed-certificate = The server did not prove that it is the support service this program was made for. To protect you, no connection was made. Please download the program again from the support page.
failed-ticket = The support service did not accept this download (it may have expired or been used already). Please download it again.
failed-link = This link to continue a support chat is no longer valid (the chat has ended or the link was used already). Please go back to the support web page.
failed-version = This program is too old or too new for the support service. Please download it again.
failed-session-lost = The connection was gone for too long and the session has ended. Please download the program again to start a new session.
failed-relay = The support service ended the connection: { $detail }

# Screen sharing, remote control, nudge
prompt-share = { $name } asks to see your screen. Nothing is shown until you allow it and choose what to share.
prompt-control = { $name } asks to control your mouse and keyboard on what you share. You can take control back at any time.
share-picker-heading = What do you want to share?
share-picker-loading = Looking for screens and open windows…
share-picker-error = Screens and windows could not be listed: { $detail }
share-whole-screen = The whole screen
share-monitor = Screen { $number } ({ $size })
share-apps = Only these applications (everything else stays black):
share-windows-by-desktop = Single windows (you choose them in your desktop's window)
share-only-screen-here = This desktop lets programs share only the whole screen.
share-desktop-asks-next = Next, your desktop asks you once more in its own window. Choose there as well; nothing is shared before.
share-no-apps = No open application windows were found.
button-share = Share
button-stop-sharing = Stop sharing
button-stop-screen-sharing = STOP SCREEN SHARING
button-change-sharing = CHANGE SHARING
sharing-screen = The technician sees your screen.
sharing-apps = The technician sees only the applications you chose.
sharing-windows = The technician sees only the windows you chose in your desktop's dialog.
preview-heading = What the technician sees
control-active = Remote control is active: the technician can use your mouse and keyboard.
button-stop-control = Take control back
note-share-asked = The technician asked to see your screen.
note-control-asked = The technician asked to control your mouse and keyboard.
note-share-allowed = You allowed screen sharing.
note-control-allowed = You allowed remote control.
note-share-declined = You declined screen sharing.
note-control-declined = You declined remote control.
note-share-stopped = Screen sharing has ended.
note-control-stopped = Remote control has ended.
note-paused = You paused sharing and control.
note-resumed = You resumed sharing.
sharing-paused = Paused: the technician sees nothing and cannot control.
button-pause = Pause
button-resume = Resume
pause-hint = Pauses screen sharing and control, e.g. while you type a password.
note-desktop-indicator = While your screen is shared, your desktop shows its own sign for it in the top bar. (It allows no watermark over other windows.)
note-share-failed = Your screen could not be shared: { $detail }
note-control-needs-share = The technician asked for control, but control is only possible while you share your screen.
watermark-text = { $site } — support session in progress

# Limits of the fields (lotse_protocol::limits) and what the relay refused.
field-count = { $count } / { $limit } characters
field-full = The limit of { $limit } characters is reached.
trouble-join-refused = The support service did not accept this ({ $detail }). Please check your entries and try again.
trouble-chat-refused = Your message was not sent ({ $detail }). It is back in the input box: shorten or change it and send it again.
trouble-refused = The support service refused this ({ $detail }).
trouble-join-unanswered = The support service has not confirmed your place in the queue yet. You can keep waiting or end the session.
trouble-connect-unanswered = The support service cannot be reached. The program keeps trying; you can keep waiting or close it.
button-keep-waiting = Keep waiting
button-dismiss = OK
file-refused = the support service refused the file ({ $reason })
