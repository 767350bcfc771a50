; Gatehouse installer for Windows (NSIS 3, Modern UI 2).
;
;   makensis /DVERSION=0.1.0 /DVERSION4=0.1.0.0 /DPAYLOAD=..\..\dist\gatehouse ^
;            /DOUTDIR=..\..\dist packaging\windows\gatehouse.nsi
;
; PAYLOAD is the PyInstaller onedir build (Gatehouse.exe, gatehouse-cli.exe, _internal\).
; `make installer-windows` compiles this script on Linux against the Linux build to check
; it; .github/workflows/windows.yml builds the real one on Windows.
;
; Silent install: Gatehouse-VERSION-setup.exe /S [/OCPPPORT=9000] [/AUTOSTART] [/D=C:\Path]
; The site data (%LOCALAPPDATA%\gatehouse) is never touched: the uninstaller keeps it and an
; upgrade migrates it at the next start (the app keeps a copy of the database first).

Unicode true
SetCompressor /SOLID lzma
!ifdef COMPRESSOR
  SetCompressor /FINAL ${COMPRESSOR}
!endif

!ifndef VERSION
  !error "pass /DVERSION=x.y.z"
!endif
!ifndef VERSION4
  !define VERSION4 "0.0.0.0"
!endif
!ifndef PAYLOAD
  !define PAYLOAD "..\..\dist\gatehouse"
!endif
!ifndef OUTDIR
  !define OUTDIR "..\..\dist"
!endif
!ifndef ICON
  !define ICON "..\..\build\gen\gatehouse.ico"
!endif

!define APP "Gatehouse"
!define PUBLISHER "Gatehouse developers"
!define GUI_EXE "Gatehouse.exe"
!define CLI_EXE "gatehouse-cli.exe"
!define DEFAULT_OCPP_PORT 9000
!define FIREWALL_RULE "Gatehouse OCPP (chargers)"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Gatehouse"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"

Name "${APP} ${VERSION}"
OutFile "${OUTDIR}\gatehouse-${VERSION}-setup.exe"
InstallDir "$PROGRAMFILES64\${APP}"
InstallDirRegKey HKLM "${UNINST_KEY}" "InstallLocation"
RequestExecutionLevel admin
ShowInstDetails show
ShowUninstDetails show
BrandingText "${APP} ${VERSION}"

VIProductVersion "${VERSION4}"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

!include "MUI2.nsh"
!include "FileFunc.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_WELCOMEPAGE_TEXT "This installs ${APP} ${VERSION}, the console for the gatehouse PC: the chargers' OCPP central system, the lanes and the live map of bays.$\r$\n$\r$\nAn earlier version is replaced; the site's data is kept and upgraded at the next start.$\r$\n$\r$\nClick Next to continue."
!define MUI_FINISHPAGE_RUN "$INSTDIR\${GUI_EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP} now (the first start asks for the site's setup)"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Var OcppPort


Section "!${APP} (required)" SecApp
  SectionIn RO
  ; An upgrade: the old program goes first, so no module of the old version lingers.
  ; Only the program folder: the site data lives in the user's profile.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  SetOutPath "$INSTDIR"
  File /r "${PAYLOAD}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${GUI_EXE}"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Start menu entry" SecStartMenu
  SetShellVarContext all
  CreateDirectory "$SMPROGRAMS\${APP}"
  CreateShortcut "$SMPROGRAMS\${APP}\${APP}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0
  CreateShortcut "$SMPROGRAMS\${APP}\${APP} demo.lnk" "$INSTDIR\${GUI_EXE}" "--demo" "$INSTDIR\${GUI_EXE}" 0
  CreateShortcut "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk" "$INSTDIR\uninstall.exe"
SectionEnd

Section "Firewall rule for the OCPP port (chargers connect in)" SecFirewall
  ; One inbound TCP rule for the chargers; replaced on upgrade, removed on uninstall.
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
  Pop $0
  nsExec::ExecToLog 'netsh advfirewall firewall add rule name="${FIREWALL_RULE}" dir=in action=allow protocol=TCP localport=$OcppPort profile=any description="Gatehouse: EV chargers connect to the OCPP central system"'
  Pop $0
  ${If} $0 != 0
    DetailPrint "Could not add the firewall rule (netsh exit $0); open TCP port $OcppPort by hand."
  ${Else}
    DetailPrint "Firewall: inbound TCP $OcppPort allowed for the chargers."
  ${EndIf}
SectionEnd

Section /o "Start ${APP} when Windows starts (kiosk PC)" SecAutostart
  WriteRegStr HKLM "${RUN_KEY}" "${APP}" '"$INSTDIR\${GUI_EXE}"'
SectionEnd

Section /o "Desktop shortcut" SecDesktop
  SetShellVarContext all
  CreateShortcut "$DESKTOP\${APP}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0
SectionEnd

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "${APP} needs 64-bit Windows."
    Abort
  ${EndIf}
  SetRegView 64
  StrCpy $OcppPort "${DEFAULT_OCPP_PORT}"
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/OCPPPORT=" $R1
  ${IfNot} ${Errors}
    StrCpy $OcppPort $R1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/AUTOSTART" $R1
  ${IfNot} ${Errors}
    SectionSetFlags ${SecAutostart} ${SF_SELECTED}
  ${EndIf}
FunctionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} "The ${APP} console and command-line tools."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecStartMenu} "${APP}, the demo and the uninstaller in the Start menu."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecFirewall} "Lets the chargers on the site network reach the OCPP port (TCP ${DEFAULT_OCPP_PORT} unless /OCPPPORT= was given). Change it if the setup picks another port."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} "Starts the console when anyone logs on: for a dedicated gatehouse PC."
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDesktop} "A ${APP} icon on the desktop."
!insertmacro MUI_FUNCTION_DESCRIPTION_END

Function un.onInit
  SetRegView 64
FunctionEnd

Section "Uninstall"
  ; The program only. The site data (%LOCALAPPDATA%\gatehouse: database, backups,
  ; OCPP frame logs) is kept on purpose, so a reinstall finds the site as it was.
  SetShellVarContext all
  Delete "$SMPROGRAMS\${APP}\*.lnk"
  RMDir "$SMPROGRAMS\${APP}"
  Delete "$DESKTOP\${APP}.lnk"
  DeleteRegValue HKLM "${RUN_KEY}" "${APP}"
  nsExec::ExecToLog 'netsh advfirewall firewall delete rule name="${FIREWALL_RULE}"'
  Pop $0
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
  DetailPrint "The site data in $LOCALAPPDATA\gatehouse was kept."
SectionEnd
