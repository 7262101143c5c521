@echo off
rem Install the Lotse support client for this Windows user and let it open
rem lotse:// links (the web chat's "Continue in the app").
rem
rem   install.cmd [DOWNLOADED-CLIENT]     (default: lotse.exe here)
rem
rem * copies the client downloaded from your support page to
rem   %LOCALAPPDATA%\Programs\Lotse\lotse.exe (its stamp says which server
rem   it talks to),
rem * records that path in %LOCALAPPDATA%\Lotse\installed: the client at
rem   exactly that path is "installed" and stays after a session (a plain
rem   download always removes itself),
rem * registers lotse:// for this user only (HKCU\Software\Classes\lotse).
rem
rem No administrator rights needed; nothing outside this user's profile
rem and registry is touched. Undo with uninstall.cmd next to this script.
setlocal
rem (Each step's errorlevel is checked on the next line: Wine's cmd, where
rem this is tested, gets `copy ... >nul || ...` wrong.)
set "src=%~1"
if "%src%"=="" set "src=lotse.exe"
if not exist "%src%" (
    echo install.cmd: no client program at %src%; download it from your support page first 1>&2
    exit /b 1
)
if "%LOCALAPPDATA%"=="" (
    echo install.cmd: LOCALAPPDATA is not set 1>&2
    exit /b 1
)
set "dir=%LOCALAPPDATA%\Programs\Lotse"
set "exe=%LOCALAPPDATA%\Programs\Lotse\lotse.exe"
set "own=%LOCALAPPDATA%\Lotse"
if not exist "%dir%" mkdir "%dir%"
if errorlevel 1 exit /b 1
if not exist "%own%" mkdir "%own%"
if errorlevel 1 exit /b 1

rem Copy first, then move into place: a running client is never overwritten.
copy /y "%src%" "%exe%.new" >nul
if errorlevel 1 exit /b 1
move /y "%exe%.new" "%exe%" >nul
if errorlevel 1 exit /b 1
> "%own%\installed" echo %exe%

reg add "HKCU\Software\Classes\lotse" /ve /d "URL:Lotse remote support" /f >nul
if errorlevel 1 exit /b 1
reg add "HKCU\Software\Classes\lotse" /v "URL Protocol" /d "" /f >nul
if errorlevel 1 exit /b 1
reg add "HKCU\Software\Classes\lotse\DefaultIcon" /ve /d "\"%exe%\",0" /f >nul
if errorlevel 1 exit /b 1
reg add "HKCU\Software\Classes\lotse\shell\open\command" /ve /d "\"%exe%\" \"%%1\"" /f >nul
if errorlevel 1 exit /b 1

echo Installed %exe%
echo lotse:// links now open it. Remove it with uninstall.cmd.
