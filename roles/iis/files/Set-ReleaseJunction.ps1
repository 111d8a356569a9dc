# Managed by the flaskops.deploy collection (role iis); run by ansible.windows.win_powershell.
#
# Points the junction $Path at the directory $Target. Reports a change (and a diff) only when the junction
# is missing or points elsewhere; honours check mode through ShouldProcess. An empty directory at $Path is
# replaced; anything else that is not a junction is left alone and the script fails.
[CmdletBinding(SupportsShouldProcess)]
param (
    [Parameter(Mandatory = $true)]
    [string]
    $Path,

    [Parameter(Mandatory = $true)]
    [string]
    $Target
)

$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false

function Get-NormalizedPath([string]$Value) {
    [System.IO.Path]::GetFullPath($Value).TrimEnd('\')
}

if (-not (Test-Path -LiteralPath $Target -PathType Container)) {
    if (-not $Ansible.CheckMode) {
        throw "The junction target '$Target' is not a directory."
    }
}

$current = $null
$item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
if ($null -ne $item) {
    if ($item.LinkType -eq 'Junction') {
        $current = @($item.Target)[0]
    }
    elseif ($item.PSIsContainer -and -not (Get-ChildItem -LiteralPath $Path -Force | Select-Object -First 1)) {
        $current = ''
    }
    else {
        throw "'$Path' exists and is not a junction (nor an empty directory); it is left alone."
    }
}

$Ansible.Result = @{
    path = $Path
    previous = $current
    target = $Target
}

if ($current -and ((Get-NormalizedPath $current) -ieq (Get-NormalizedPath $Target))) {
    return
}

$Ansible.Changed = $true
$Ansible.Diff = @{
    before = "$Path -> $current`n"
    after = "$Path -> $Target`n"
}

if ($PSCmdlet.ShouldProcess($Path, "Point the junction at $Target")) {
    if ($null -ne $item) {
        # Removes the junction (or the empty directory) itself, never the directory a junction points to.
        [System.IO.Directory]::Delete($Path, $false)
    }
    $null = New-Item -ItemType Junction -Path $Path -Target $Target
}
