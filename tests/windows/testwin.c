/* A Windows program for the end-to-end tests under Wine: one top-level
 * window filled with one colour, optionally with a multi-line edit field
 * whose text is written (UTF-8) to a file after every change, so a test
 * can read back what was typed into a real Windows control.
 *
 *   testwin.exe TITLE RRGGBB X Y WIDTH HEIGHT [TEXT-FILE]
 *
 * Copies under different names are different applications for Lotse's
 * picker (it groups windows by program). Built by scripts/windows.sh. */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#define EDIT_ID 1

static const wchar_t *text_file;
static HWND edit;

static void save_text(void)
{
    int len = GetWindowTextLengthW(edit);
    wchar_t *wide = calloc(len + 1, sizeof(wchar_t));
    GetWindowTextW(edit, wide, len + 1);
    int bytes = WideCharToMultiByte(CP_UTF8, 0, wide, len, NULL, 0, NULL, NULL);
    char *utf8 = malloc(bytes + 1);
    WideCharToMultiByte(CP_UTF8, 0, wide, len, utf8, bytes, NULL, NULL);
    /* Whole file at once, then renamed over the old one: a reader never
     * sees half a text. */
    wchar_t partial[MAX_PATH + 8];
    swprintf(partial, MAX_PATH + 8, L"%ls.part", text_file);
    FILE *f = _wfopen(partial, L"wb");
    if (f) {
        fwrite(utf8, 1, bytes, f);
        fclose(f);
        MoveFileExW(partial, text_file, MOVEFILE_REPLACE_EXISTING);
    }
    free(utf8);
    free(wide);
}

static LRESULT CALLBACK window_proc(HWND hwnd, UINT msg, WPARAM wp, LPARAM lp)
{
    switch (msg) {
    case WM_SIZE:
        if (edit)
            MoveWindow(edit, 10, 10, LOWORD(lp) - 20, HIWORD(lp) - 20, TRUE);
        return 0;
    case WM_SETFOCUS:
        if (edit)
            SetFocus(edit);
        return 0;
    case WM_COMMAND:
        if (LOWORD(wp) == EDIT_ID && HIWORD(wp) == EN_CHANGE)
            save_text();
        return 0;
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    }
    return DefWindowProcW(hwnd, msg, wp, lp);
}

int wmain(int argc, wchar_t **argv)
{
    if (argc < 7) {
        fwprintf(stderr, L"usage: testwin TITLE RRGGBB X Y WIDTH HEIGHT [TEXT-FILE]\n");
        return 2;
    }
    unsigned long rgb = wcstoul(argv[2], NULL, 16);
    text_file = argc > 7 ? argv[7] : NULL;
    HINSTANCE inst = GetModuleHandleW(NULL);
    WNDCLASSW wc = {0};
    wc.lpfnWndProc = window_proc;
    wc.hInstance = inst;
    wc.hCursor = LoadCursorW(NULL, (LPCWSTR)IDC_ARROW);
    wc.hbrBackground = CreateSolidBrush(RGB(rgb >> 16, (rgb >> 8) & 0xff, rgb & 0xff));
    wc.lpszClassName = L"LotseTestWindow";
    RegisterClassW(&wc);
    HWND hwnd = CreateWindowExW(0, wc.lpszClassName, argv[1],
                                WS_OVERLAPPEDWINDOW | WS_VISIBLE, _wtoi(argv[3]),
                                _wtoi(argv[4]), _wtoi(argv[5]), _wtoi(argv[6]), NULL,
                                NULL, inst, NULL);
    if (text_file) {
        RECT r;
        GetClientRect(hwnd, &r);
        edit = CreateWindowExW(WS_EX_CLIENTEDGE, L"EDIT", L"",
                               WS_CHILD | WS_VISIBLE | ES_MULTILINE | ES_WANTRETURN |
                                   ES_AUTOVSCROLL,
                               10, 10, r.right - 20, r.bottom - 20, hwnd,
                               (HMENU)(INT_PTR)EDIT_ID, inst, NULL);
        SetFocus(edit);
    }
    /* The test waits for this line: the window is there. */
    printf("window %p\n", (void *)hwnd);
    fflush(stdout);
    MSG m;
    while (GetMessageW(&m, NULL, 0, 0) > 0) {
        TranslateMessage(&m);
        DispatchMessageW(&m);
    }
    return 0;
}
