@echo off
rem Remove what install.cmd installed: the client, its install marker and
rem the lotse:// handler of this user. Files it did not write are left
rem alone.
setlocal
if "%LOCALAPPDATA%"=="" (
    echo uninstall.cmd: LOCALAPPDATA is not set 1>&2
    exit /b 1
)
set "dir=%LOCALAPPDATA%\Programs\Lotse"
set "own=%LOCALAPPDATA%\Lotse"
if exist "%dir%\lotse.exe" del /f /q "%dir%\lotse.exe"
rmdir "%dir%" 2>nul
if exist "%own%\installed" del /f /q "%own%\installed"
rmdir "%own%" 2>nul
reg delete "HKCU\Software\Classes\lotse" /f >nul 2>&1
echo Lotse is removed.
