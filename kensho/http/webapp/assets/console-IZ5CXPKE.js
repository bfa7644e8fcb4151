import{a as ie,b as i,c as E,d as j,e as U,f as k,g as le,i as de,k as ce,l as K,m as pe,n as fe,p as ue,q as G,r as B,s as u,t as ee}from"./chunk-UH5LOXPZ.js";var te=pe(null);function me(e,n){return new Promise(o=>te.set({message:e,action:n,resolve:o}))}function $e(){let e=fe(te),n=U(null);j(()=>{let r=n.current;e&&!r.open&&r.showModal(),!e&&r.open&&r.close()},[e]);function o(r){e&&e.resolve(r),te.set(null)}return i`
    <dialog ref=${n} class="confirm" aria-labelledby="confirm-text" onCancel=${r=>{r.preventDefault(),o(!1)}}>
      <p id="confirm-text">${e?e.message:""}</p>
      <div class="confirm-buttons">
        <button type="button" onClick=${()=>o(!1)}>Cancel</button>
        <button type="button" class="primary" onClick=${()=>o(!0)}>${e?e.action:"Confirm"}</button>
      </div>
    </dialog>
  `}var M=class extends Error{constructor(n,o){super(n),this.name="ParseError",this.type=o.type,this.field=o.field,this.value=o.value,this.line=o.line}};var H=10,Y=13,F=32,be=6;function re(e){if(typeof e=="function")throw new TypeError("`config` must be an object, got a function instead. Did you mean `createParser({onEvent: fn})`?");let{maxBufferSize:n,onComment:o,onError:r,onEvent:l,onId:s,onRetry:v}=e,m=[],b=0,S="",$,g="",w=0,x,A=!1,C=!1,_=!1;function J(t){if(A)throw new Error("Cannot feed parser: it was terminated after exceeding the configured max buffer size. Call `reset()` to resume parsing.");if(S!==void 0){if(t=S+t,t===""||t==="ï"||t==="ï»"){S=t;return}S=void 0,t=t.replace(/^(?:\uFEFF|\xEF\xBB\xBF)/,"")}if((C||_)&&(t=V(t),!t))return;if(!m.length){let c=O(t);c!==""&&z(c),P();return}if(t.indexOf(`
`)===-1&&t.indexOf("\r")===-1){if(b<be){let c=m.join("")+t.slice(0,be-b);if(!q(c)){m.length=0,b=0,C=!0;return}}m.push(t),b+=t.length,P();return}m.push(t);let a=m.join("");m.length=0,b=0,z(O(a)),P()}function V(t){if(t.length===0)return t;if(_)return _=!1,t.charCodeAt(0)===H?t.slice(1):t;let a=t.indexOf("\r"),c=t.indexOf(`
`),h=a===-1?c:c===-1||a<c?a:c;return h===-1?"":h===t.length-1&&t.charCodeAt(h)===Y?(C=!1,_=!0,""):(C=!1,t.slice(h+(t.charCodeAt(h)===Y&&t.charCodeAt(h+1)===H?2:1)))}function z(t){if(t){if(t.charCodeAt(t.length-1)===Y){if(d(t,0,t.length-1),P())return;_=!0;return}if(q(t)){m.push(t),b=t.length;return}C=!0}}function q(t){let a=t.charCodeAt(0);return a===58&&!!o||a===100&&Q(t,"data")||a===101&&Q(t,"event")||a===105&&Q(t,"id")||a===114&&Q(t,"retry")}function P(){return A?!0:n===void 0||b+g.length<=n?!1:(A=!0,m.length=0,b=0,$=void 0,g="",w=0,x=void 0,C=!1,_=!1,r?.(new M(`Buffered data exceeded max buffer size of ${n} characters`,{type:"max-buffer-size-exceeded"})),!0)}function O(t){let a=0;if(t.indexOf("\r")===-1){let p=t.indexOf(`
`,a);for(;p!==-1;){if(a===p){$!==void 0&&s?.($),w>0&&l?.({id:$,event:x,data:g}),$=void 0,g="",w=0,x=void 0,a=p+1,p=t.indexOf(`
`,a);continue}let T=t.charCodeAt(a);if(he(t,a,T)){let Z=t.charCodeAt(a+5)===F?a+6:a+5,D=t.slice(Z,p);if(w===0&&t.charCodeAt(p+1)===H){$!==void 0&&s?.($),l?.({id:$,event:x,data:D}),$=void 0,g="",x=void 0,a=p+2,p=t.indexOf(`
`,a);continue}g=w===0?D:`${g}
${D}`,w++}else ge(t,a,T)?x=t.slice(t.charCodeAt(a+6)===F?a+7:a+6,p)||void 0:d(t,a,p);if(P())return"";a=p+1,p=t.indexOf(`
`,a)}return t.slice(a)}let c=t.indexOf("\r",a),h=t.indexOf(`
`,a);for(;a<t.length;){let p=-1;if(c!==-1&&h!==-1?p=c<h?c:h:c!==-1?c===t.length-1?p=-1:p=c:h!==-1&&(p=h),p===-1)break;if(d(t,a,p),P())return"";a=p+1,t.charCodeAt(a-1)===Y&&t.charCodeAt(a)===H&&a++,c!==-1&&c<a&&(c=t.indexOf("\r",a)),h!==-1&&h<a&&(h=t.indexOf(`
`,a))}return t.slice(a)}function d(t,a,c){if(a===c){y();return}let h=t.charCodeAt(a);if(he(t,a,h)){let L=t.charCodeAt(a+5)===F?a+6:a+5,se=t.slice(L,c);g=w===0?se:`${g}
${se}`,w++;return}if(ge(t,a,h)){x=t.slice(t.charCodeAt(a+6)===F?a+7:a+6,c)||void 0;return}if(h===105&&t.charCodeAt(a+1)===100&&t.charCodeAt(a+2)===58){let L=t.slice(t.charCodeAt(a+3)===F?a+4:a+3,c);L.includes("\0")||($=L);return}if(h===58){if(o){let L=t.slice(a,c);o(L.slice(t.charCodeAt(a+1)===F?2:1))}return}let p=t.slice(a,c),T=p.indexOf(":");if(T===-1){f(p,"",p);return}let Z=p.slice(0,T),D=p.charCodeAt(T+1)===F?2:1,Fe=p.slice(T+D);f(Z,Fe,p)}function f(t,a,c){switch(t){case"event":x=a||void 0;break;case"data":g=w===0?a:`${g}
${a}`,w++;break;case"id":a.includes("\0")||($=a);break;case"retry":/^\d+$/.test(a)?v?.(parseInt(a,10)):r?.(new M(`Invalid \`retry\` value: "${a}"`,{type:"invalid-retry",value:a,line:c}));break;default:r?.(new M(`Unknown field "${t.length>20?`${t.slice(0,20)}…`:t}"`,{type:"unknown-field",field:t,value:a,line:c}));break}}function y(){$!==void 0&&s?.($),w>0&&l?.({id:$,event:x,data:g}),$=void 0,g="",w=0,x=void 0}function R(t={}){if(t.consume&&m.length>0){let a=m.join("");d(a,0,a.length)}S="",$=void 0,g="",w=0,x=void 0,m.length=0,b=0,A=!1,C=!1,_=!1}return{feed:J,reset:R}}function he(e,n,o){return o===100&&e.charCodeAt(n+1)===97&&e.charCodeAt(n+2)===116&&e.charCodeAt(n+3)===97&&e.charCodeAt(n+4)===58}function ge(e,n,o){return o===101&&e.charCodeAt(n+1)===118&&e.charCodeAt(n+2)===101&&e.charCodeAt(n+3)===110&&e.charCodeAt(n+4)===116&&e.charCodeAt(n+5)===58}function Q(e,n){let o=1;for(;o<e.length&&o<n.length;){if(e.charCodeAt(o)!==n.charCodeAt(o))return!1;o++}return e.length<=n.length||e.charCodeAt(n.length)===58}var N=class extends Error{};async function ve(e,{onState:n,onStatus:o,signal:r}){let l=500;for(;!r.aborted;){try{let s=await fetch("/admin/events",{headers:{Accept:"text/event-stream",Authorization:`Bearer ${e}`},cache:"no-store",signal:r});if(s.status===401||s.status===404)throw new N;if(!s.ok||!s.body)throw new Error(`the feed answered ${s.status}`);o("live"),l=500;let v=re({onEvent(b){b.event==="state"?n(JSON.parse(b.data)):b.event==="shutdown"&&o("draining")}}),m=s.body.pipeThrough(new TextDecoderStream).getReader();for(;;){let{value:b,done:S}=await m.read();if(S)break;v.feed(b)}}catch(s){if(K(s)||s instanceof N)throw s}if(r.aborted)break;o("reconnecting"),await ce(l,r).catch(()=>{}),l=Math.min(l*2,1e4)}}function W({values:e,label:n,max:o,width:r=160,height:l=36}){let s=e.filter($=>Number.isFinite($)),v=o??Math.max(...s,0),m=v>0?v:1,b=s.length>1?r/(s.length-1):r,S=s.map(($,g)=>`${(g*b).toFixed(1)},${(l-2-$/m*(l-4)).toFixed(1)}`).join(" ");return i`
    <svg class="sparkline" viewBox=${`0 0 ${r} ${l}`} width=${r} height=${l} role="img" aria-label=${n}>
      <title>${n}</title>
      <line x1="0" y1=${l-1} x2=${r} y2=${l-1} class="baseline" />
      ${s.length>1&&i`<polyline points=${S} fill="none" stroke="currentColor" stroke-width="2" />`}
    </svg>
  `}function ye({breaker:e,onMode:n}){if(!e)return i`<p class="empty">No breaker in this actor tree.</p>`;let o=e.calls||{};return i`
    <p class="big"><span class=${`state state-${e.state}`}>${e.state.replace("_"," ")}</span>
      <span class="muted"> mode ${e.mode}</span></p>
    <dl class="facts">
      <dt>Failure rate</dt><dd>${B(e.failure_rate)} (opens at ${B(e.failure_threshold,0)})</dd>
      <dt>Slow calls</dt><dd>${B(e.slow_call_rate)}</dd>
      <dt>Window</dt><dd>${u(e.buffered_calls)} of ${u(e.window_size)} calls (judges from ${u(e.minimum_calls)})</dd>
      ${e.retry_after!==null&&i`<dt>Retry after</dt><dd>${Math.ceil(e.retry_after)} s</dd>`}
      <dt>Calls</dt><dd>${Object.entries(o).map(([r,l])=>`${r} ${u(l)}`).join(" · ")}</dd>
      <dt>Transitions</dt>
      <dd>${e.transitions_by.length?e.transitions_by.map(r=>`${r.from} → ${r.to} ×${r.count}`).join(" · "):"none"}${e.last_transition?` (last: ${e.last_transition})`:""}</dd>
    </dl>
    <div class="actions">
      <button type="button" class="danger" onClick=${()=>n("forced_open")}>Force open</button>
      <button type="button" onClick=${()=>n("disabled")}>Disable</button>
      <button type="button" onClick=${()=>n("auto")}>Reset</button>
    </div>
  `}function we({cache:e,history:n,onInvalidate:o}){let[r,l]=E("");if(!e)return i`<p class="empty">No cache actor in this tree.</p>`;let s=e.summary||{};function v(m){m.preventDefault(),r.trim()&&o(r.trim())}return i`
    <p class="big">${B(s.hit_ratio)} <span class="muted">hit ratio</span></p>
    <${W} values=${n.hitRatio} max=${1} label=${`Cache hit ratio, last ${n.hitRatio.length} samples`} />
    <dl class="facts">
      <dt>Entries</dt><dd>${u(s.entries)} of ${u(s.max_entries)}</dd>
      <dt>Size</dt><dd>${G(s.bytes)} of ${G(s.max_bytes)}</dd>
      <dt>Tiers</dt><dd>L1 ${s.l1||"?"} · L2 ${s.l2||"?"}</dd>
      <dt>Lookups</dt><dd>${s.lookups?Object.entries(s.lookups).map(([m,b])=>`${m} ${u(b)}`).join(" · "):"–"}</dd>
      <dt>Stale served</dt><dd>${u(s.stale_served)} (if-error ${u(s.stale_if_error)})</dd>
    </dl>
    <form class="inline-form" onSubmit=${v}>
      <label>Cache key pattern
        <input type="text" value=${r} placeholder="anime:GR751KNZY|*" maxlength="256"
          onInput=${m=>l(m.currentTarget.value)} />
      </label>
      <button type="submit" disabled=${!r.trim()}>Invalidate</button>
    </form>
  `}function xe({sync:e,onSync:n}){return e?i`
    <p class="big">${e.running?"Running":e.loaded?"Loaded":"Empty"}
      <span class="muted"> ${u(e.series_count)} series</span></p>
    ${e.running&&i`<progress max="1" value=${e.progress??void 0} aria-label="Sync progress">${B(e.progress,0)}</progress>`}
    <dl class="facts">
      <dt>Last run</dt><dd>${e.last_run?new Date(e.last_run).toLocaleString("en-GB"):"never"}</dd>
      <dt>Result</dt><dd>${e.last_result||"–"}</dd>
      ${e.last_error&&i`<dt>Error</dt><dd class="failure">${e.last_error}</dd>`}
    </dl>
    <div class="actions"><button type="button" onClick=${n} disabled=${e.running}>Sync now</button></div>
  `:i`<p class="empty">No catalog sync job on this replica.</p>`}function Ce({bandwidth:e,streams:n,history:o}){if(!e)return i`<p class="empty">No stream statistics.</p>`;let r=o.kbps.length?o.kbps[o.kbps.length-1]:0;return i`
    <p class="big">${u(Math.round(r))} <span class="muted">kbit/s reported · ${u(n)} open streams</span></p>
    <${W} values=${o.kbps} label=${`Players' reported bandwidth, last ${o.kbps.length} samples`} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Bandwidth by quality (scrolls sideways)">
    <table class="compact">
      <thead><tr><th scope="col">Quality</th><th scope="col">Reports</th><th scope="col">Average</th><th scope="col">Received</th><th scope="col">Underruns</th></tr></thead>
      <tbody>
        ${Object.entries(e).map(([l,s])=>i`<tr key=${l}>
          <th scope="row">${l}</th><td>${u(s.reports)}</td><td>${u(Math.round(s.average_kbps))} kbit/s</td>
          <td>${G(s.bytes)}</td><td>${u(s.underruns)}</td></tr>`)}
      </tbody>
    </table>
    </div>
  `}function _e({state:e,history:n}){return i`
    <dl class="facts">
      <dt>Uptime</dt><dd>${Math.round(e.uptime_s)} s</dd>
      <dt>Requests in flight</dt><dd>${u(e.in_flight)}</dd>
      <dt>Event loop lag</dt><dd>${e.loop_lag_ms.toFixed(1)} ms</dd>
    </dl>
    <${W} values=${n.lag} label=${`Event loop lag in ms, last ${n.lag.length} samples`} />
  `}function Se({analytics:e,error:n,onRefresh:o}){return i`
    ${n&&i`<p class="error" role="alert">${n}</p>`}
    ${e&&i`
      <div class="two">
        <div>
          <h3>Top queries</h3>
          ${e.top_queries.length?i`<ol class="queries">${e.top_queries.map(r=>i`<li><span>${r.query}</span> <span class="muted">${u(r.count)}</span></li>`)}</ol>`:i`<p class="empty">No searches yet.</p>`}
        </div>
        <div>
          <h3>Queries with no result</h3>
          ${e.zero_result_queries.length?i`<ol class="queries">${e.zero_result_queries.map(r=>i`<li><span>${r.query}</span> <span class="muted">${u(r.count)}</span></li>`)}</ol>`:i`<p class="empty">None.</p>`}
        </div>
      </div>
      <p class="muted">Last ${Math.round(e.window_s/3600)} h; ${u(e.recorder.recorded)} searches recorded here.</p>`}
    <div class="actions"><button type="button" onClick=${o}>Refresh</button></div>
  `}var Ie=["Name","State","Mailbox","Processed","Failed","Restarts","p50","p99","Uptime","Last failure"];function ae(e,n=0,o=[]){o.push({node:e,depth:n});for(let r of e.children||[])ae(r,n+1,o);return o}function Ae({value:e}){return i`<span class=${`state state-${e}`}>${(e||"").replace("_"," ")}</span>`}function Oe(e){if(!e)return"";let n=new Date(e.at*1e3).toLocaleTimeString("en-GB");return`${e.type}: ${e.message} (${n})`}function Ee({tree:e,onRestart:n}){if(!e)return i`<p class="empty">The actor system is not running.</p>`;let o=ae(e);return i`
    <div class="table-wrap" tabindex="0" role="region" aria-label="Supervision tree">
      <table class="tree" role="table">
        <thead role="rowgroup">
          <tr role="row">
            ${Ie.map(r=>i`<th scope="col" role="columnheader">${r}</th>`)}
            <th scope="col" role="columnheader"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          ${o.map(({node:r,depth:l})=>r.kind==="supervisor"?i`<tr key=${`sup-${r.name}`} role="row" class="supervisor" data-actor=${r.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(l,4)}`}>${r.name}</th>
                  <td role="cell" data-label="State"><${Ae} value=${r.failed?"failed":"running"} /></td>
                  <td role="cell" data-label="Strategy" colspan="3">${r.strategy} supervisor</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${r.restarts_in_period} of ${r.intensity} in ${r.period} s</td>
                  <td role="cell" colspan="3" class="blank"></td>
                  <td role="cell" data-label="Failure" class=${r.failure_reason?"failure":"blank"}>${r.failure_reason||""}</td>
                  <td role="cell" class="blank"></td>
                </tr>`:i`<tr key=${`actor-${r.name}`} role="row" data-actor=${r.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(l,4)}`}>${r.name}</th>
                  <td role="cell" data-label="State"><${Ae} value=${r.state} /></td>
                  <td role="cell" data-label="Mailbox" data-col="mailbox">${u(r.mailbox_depth)}${r.stashed?` (+${r.stashed} stashed)`:""}</td>
                  <td role="cell" data-label="Processed" data-col="processed">${u(r.processed)}</td>
                  <td role="cell" data-label="Failed" data-col="failed">${u(r.failed)}</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${u(r.restarts)}</td>
                  <td role="cell" data-label="p50">${ee(r.processing_us&&r.processing_us.p50)}</td>
                  <td role="cell" data-label="p99">${ee(r.processing_us&&r.processing_us.p99)}</td>
                  <td role="cell" data-label="Uptime">${ue(r.uptime_s)}</td>
                  <td role="cell" data-label="Last failure" class=${r.last_failure?"failure":"blank"}>${Oe(r.last_failure)}</td>
                  <td role="cell" class="restart-cell"><button type="button" onClick=${()=>n(r.name)} aria-label=${`Restart ${r.name}`}>Restart</button></td>
                </tr>`)}
        </tbody>
      </table>
    </div>
  `}function X(e,n){return e?ae(e).map(o=>o.node).find(o=>o.name===n):void 0}var oe="kensho.adminToken",Pe=120,Le=3e4;function Be({onToken:e,refused:n}){let[o,r]=E("");return i`
    <section class="token card">
      <h1>Kenshō operator console</h1>
      <form onSubmit=${l=>{l.preventDefault(),o.trim()&&e(o.trim())}} class="stack">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="off" value=${o} onInput=${l=>r(l.currentTarget.value)} required />
        <button type="submit" class="primary">Connect</button>
        <p class="error" role="alert">${n?"The server refused this token.":""}</p>
      </form>
      <p class="muted">The token (<code>KENSHO_ADMIN_TOKEN</code>) stays in this tab's session storage.</p>
    </section>
  `}function I({id:e,title:n,wide:o=!1,children:r}){return i`<section class=${o?"card wide":"card"} aria-labelledby=${`${e}-heading`}>
    <h2 id=${`${e}-heading`}>${n}</h2>
    ${r}
  </section>`}function ne(e,n){let o=[...e,n];return o.length>Pe?o.slice(o.length-Pe):o}function Re(e){return e?Object.values(e).reduce((n,o)=>n+o.bytes,0):0}function Me({token:e,onRefused:n}){let[o,r]=E(null),[l,s]=E("connecting"),[v,m]=E({hitRatio:[],kbps:[],lag:[]}),[b,S]=E([]),[$,g]=E({data:null,error:null}),w=U(null),x=k((d,f=!1)=>{S(y=>[{text:d,bad:f,at:new Date().toLocaleTimeString("en-GB")},...y].slice(0,6))},[]),A=k((d,f={})=>de(d,{...f,token:e}).catch(y=>{throw y instanceof le&&(y.status===401||y.status===404)&&n(),y}),[e,n]);j(()=>{let d=new AbortController;return ve(e,{signal:d.signal,onStatus:s,onState(f){r(f);let y=X(f.tree,"cache"),R=w.current,t=R&&f.at>R.at?(Re(f.bandwidth)-Re(R.bandwidth))*8/1e3/(f.at-R.at):0;w.current=f,m(a=>({hitRatio:ne(a.hitRatio,y&&y.summary?y.summary.hit_ratio??0:0),kbps:ne(a.kbps,Math.max(0,t)),lag:ne(a.lag,f.loop_lag_ms)}))}}).catch(f=>{f instanceof N?n():K(f)||s("reconnecting")}),()=>d.abort()},[e]);let C=k(()=>{A("/admin/search/analytics?window=24h&limit=10").then(d=>g({data:d,error:null})).catch(d=>g(f=>({...f,error:d.message})))},[A]);j(()=>{C();let d=setInterval(C,Le);return()=>clearInterval(d)},[C]);async function _(d,f,y,R){if(await me(d,f))try{x(R(await y()))}catch(t){x(`${f} failed: ${t.message}`,!0)}}let J=d=>_(`Restart the ${d} actor? Its mailbox is stashed and replayed.`,"Restart",()=>A(`/admin/actors/${encodeURIComponent(d)}/restart`,{method:"POST"}),()=>`Restarted ${d}.`),V=d=>{let f={forced_open:"Force the breaker open? Every upstream call fails fast.",disabled:"Disable the breaker? Upstream calls are never refused.",auto:"Reset the breaker to automatic?"}[d];return _(f,{forced_open:"Force open",disabled:"Disable",auto:"Reset"}[d],()=>A("/admin/breaker",{method:"POST",body:{mode:d}}),y=>`Breaker is ${y.state} (mode ${y.mode}).`)},z=d=>_(`Invalidate every cache key matching “${d}” on every replica?`,"Invalidate",()=>A("/admin/cache/invalidate",{method:"POST",body:{pattern:d}}),f=>`Invalidated ${f.invalidated} key(s) matching “${f.pattern}”.`),q=()=>_("Start a catalog sync now?","Sync now",()=>A("/admin/catalog/sync",{method:"POST"}),()=>"Catalog sync started."),P={live:"Live",connecting:"Connecting…",reconnecting:"Reconnecting…",draining:"Server shutting down"},O=X(o&&o.tree,"session_pool");return i`
    <header class="console-header">
      <h1>Kenshō operator console</h1>
      <p class=${`connection connection-${l}`} role="status">${P[l]||l}${o&&o.draining?" · draining":""}</p>
      <button type="button" onClick=${n}>Forget token</button>
    </header>
    <div class="log" role="log" aria-label="Actions" aria-live="polite">
      ${b.map(d=>i`<p class=${d.bad?"error":""}>${d.at} ${d.text}</p>`)}
    </div>
    ${o?i`
      <main class="panels">
        <${I} id="tree" title="Supervision tree" wide>
          <${Ee} tree=${o.tree} onRestart=${J} />
        <//>
        <${I} id="breaker" title="Upstream breaker">
          <${ye} breaker=${o.breaker} onMode=${V} />
        <//>
        <${I} id="cache" title="Cache">
          <${we} cache=${X(o.tree,"cache")} history=${v} onInvalidate=${z} />
        <//>
        <${I} id="sync" title="Catalog sync">
          <${xe} sync=${o.sync} onSync=${q} />
        <//>
        <${I} id="streams" title="Streams">
          <${Ce} bandwidth=${o.bandwidth} streams=${O&&O.summary?O.summary.streams:0} history=${v} />
        <//>
        <${I} id="process" title="Process">
          <${_e} state=${o} history=${v} />
        <//>
        <${I} id="search" title="Search analytics" wide>
          <${Se} analytics=${$.data} error=${$.error} onRefresh=${C} />
        <//>
      </main>`:i`<p class="empty">Waiting for the first update…</p>`}
    <${$e} />
  `}function Te(){let[e,n]=E(()=>sessionStorage.getItem(oe)),[o,r]=E(!1),l=v=>{sessionStorage.setItem(oe,v),r(!1),n(v)},s=k(()=>{sessionStorage.removeItem(oe),r(!0),n(null)},[]);return e?i`<${Me} key=${e} token=${e} onRefused=${s} />`:i`<main><${Be} onToken=${l} refused=${o} /></main>`}ie(i`<${Te} />`,document.getElementById("app"));
