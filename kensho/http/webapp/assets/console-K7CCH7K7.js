import{a as ie,b as l,c as _,d as R,e as G,f as N,g as le,i as de,k as ce,l as K,m as pe,n as fe,p as ue,q as H,r as P,s as $,t as ee}from"./chunk-UH5LOXPZ.js";var te=pe(null);function me(e,o){return new Promise(a=>te.set({message:e,action:o,resolve:a}))}function $e(){let e=fe(te),o=G(null);R(()=>{let t=o.current;e&&!t.open&&t.showModal(),!e&&t.open&&t.close()},[e]);function a(t){e&&e.resolve(t),te.set(null)}return l`
    <dialog ref=${o} class="confirm" aria-labelledby="confirm-text" onCancel=${t=>{t.preventDefault(),a(!1)}}>
      <p id="confirm-text">${e?e.message:""}</p>
      <div class="confirm-buttons">
        <button type="button" onClick=${()=>a(!1)}>Cancel</button>
        <button type="button" class="primary" onClick=${()=>a(!0)}>${e?e.action:"Confirm"}</button>
      </div>
    </dialog>
  `}var B=class extends Error{constructor(o,a){super(o),this.name="ParseError",this.type=a.type,this.field=a.field,this.value=a.value,this.line=a.line}};var Y=10,J=13,L=32,be=6;function re(e){if(typeof e=="function")throw new TypeError("`config` must be an object, got a function instead. Did you mean `createParser({onEvent: fn})`?");let{maxBufferSize:o,onComment:a,onError:t,onEvent:c,onId:d,onRetry:h}=e,m=[],b=0,u="",f,g="",v=0,x,O=!1,C=!1,y=!1;function j(r){if(O)throw new Error("Cannot feed parser: it was terminated after exceeding the configured max buffer size. Call `reset()` to resume parsing.");if(u!==void 0){if(r=u+r,r===""||r==="ï"||r==="ï»"){u=r;return}u=void 0,r=r.replace(/^(?:\uFEFF|\xEF\xBB\xBF)/,"")}if((C||y)&&(r=T(r),!r))return;if(!m.length){let s=U(r);s!==""&&S(s),E();return}if(r.indexOf(`
`)===-1&&r.indexOf("\r")===-1){if(b<be){let s=m.join("")+r.slice(0,be-b);if(!z(s)){m.length=0,b=0,C=!0;return}}m.push(r),b+=r.length,E();return}m.push(r);let n=m.join("");m.length=0,b=0,S(U(n)),E()}function T(r){if(r.length===0)return r;if(y)return y=!1,r.charCodeAt(0)===Y?r.slice(1):r;let n=r.indexOf("\r"),s=r.indexOf(`
`),i=n===-1?s:s===-1||n<s?n:s;return i===-1?"":i===r.length-1&&r.charCodeAt(i)===J?(C=!1,y=!0,""):(C=!1,r.slice(i+(r.charCodeAt(i)===J&&r.charCodeAt(i+1)===Y?2:1)))}function S(r){if(r){if(r.charCodeAt(r.length-1)===J){if(k(r,0,r.length-1),E())return;y=!0;return}if(z(r)){m.push(r),b=r.length;return}C=!0}}function z(r){let n=r.charCodeAt(0);return n===58&&!!a||n===100&&Q(r,"data")||n===101&&Q(r,"event")||n===105&&Q(r,"id")||n===114&&Q(r,"retry")}function E(){return O?!0:o===void 0||b+g.length<=o?!1:(O=!0,m.length=0,b=0,f=void 0,g="",v=0,x=void 0,C=!1,y=!1,t?.(new B(`Buffered data exceeded max buffer size of ${o} characters`,{type:"max-buffer-size-exceeded"})),!0)}function U(r){let n=0;if(r.indexOf("\r")===-1){let p=r.indexOf(`
`,n);for(;p!==-1;){if(n===p){f!==void 0&&d?.(f),v>0&&c?.({id:f,event:x,data:g}),f=void 0,g="",v=0,x=void 0,n=p+1,p=r.indexOf(`
`,n);continue}let w=r.charCodeAt(n);if(he(r,n,w)){let I=r.charCodeAt(n+5)===L?n+6:n+5,A=r.slice(I,p);if(v===0&&r.charCodeAt(p+1)===Y){f!==void 0&&d?.(f),c?.({id:f,event:x,data:A}),f=void 0,g="",x=void 0,n=p+2,p=r.indexOf(`
`,n);continue}g=v===0?A:`${g}
${A}`,v++}else ge(r,n,w)?x=r.slice(r.charCodeAt(n+6)===L?n+7:n+6,p)||void 0:k(r,n,p);if(E())return"";n=p+1,p=r.indexOf(`
`,n)}return r.slice(n)}let s=r.indexOf("\r",n),i=r.indexOf(`
`,n);for(;n<r.length;){let p=-1;if(s!==-1&&i!==-1?p=s<i?s:i:s!==-1?s===r.length-1?p=-1:p=s:i!==-1&&(p=i),p===-1)break;if(k(r,n,p),E())return"";n=p+1,r.charCodeAt(n-1)===J&&r.charCodeAt(n)===Y&&n++,s!==-1&&s<n&&(s=r.indexOf("\r",n)),i!==-1&&i<n&&(i=r.indexOf(`
`,n))}return r.slice(n)}function k(r,n,s){if(n===s){V();return}let i=r.charCodeAt(n);if(he(r,n,i)){let D=r.charCodeAt(n+5)===L?n+6:n+5,se=r.slice(D,s);g=v===0?se:`${g}
${se}`,v++;return}if(ge(r,n,i)){x=r.slice(r.charCodeAt(n+6)===L?n+7:n+6,s)||void 0;return}if(i===105&&r.charCodeAt(n+1)===100&&r.charCodeAt(n+2)===58){let D=r.slice(r.charCodeAt(n+3)===L?n+4:n+3,s);D.includes("\0")||(f=D);return}if(i===58){if(a){let D=r.slice(n,s);a(D.slice(r.charCodeAt(n+1)===L?2:1))}return}let p=r.slice(n,s),w=p.indexOf(":");if(w===-1){q(p,"",p);return}let I=p.slice(0,w),A=p.charCodeAt(w+1)===L?2:1,ke=p.slice(w+A);q(I,ke,p)}function q(r,n,s){switch(r){case"event":x=n||void 0;break;case"data":g=v===0?n:`${g}
${n}`,v++;break;case"id":n.includes("\0")||(f=n);break;case"retry":/^\d+$/.test(n)?h?.(parseInt(n,10)):t?.(new B(`Invalid \`retry\` value: "${n}"`,{type:"invalid-retry",value:n,line:s}));break;default:t?.(new B(`Unknown field "${r.length>20?`${r.slice(0,20)}…`:r}"`,{type:"unknown-field",field:r,value:n,line:s}));break}}function V(){f!==void 0&&d?.(f),v>0&&c?.({id:f,event:x,data:g}),f=void 0,g="",v=0,x=void 0}function Z(r={}){if(r.consume&&m.length>0){let n=m.join("");k(n,0,n.length)}u="",f=void 0,g="",v=0,x=void 0,m.length=0,b=0,O=!1,C=!1,y=!1}return{feed:j,reset:Z}}function he(e,o,a){return a===100&&e.charCodeAt(o+1)===97&&e.charCodeAt(o+2)===116&&e.charCodeAt(o+3)===97&&e.charCodeAt(o+4)===58}function ge(e,o,a){return a===101&&e.charCodeAt(o+1)===118&&e.charCodeAt(o+2)===101&&e.charCodeAt(o+3)===110&&e.charCodeAt(o+4)===116&&e.charCodeAt(o+5)===58}function Q(e,o){let a=1;for(;a<e.length&&a<o.length;){if(e.charCodeAt(a)!==o.charCodeAt(a))return!1;a++}return e.length<=o.length||e.charCodeAt(o.length)===58}var M=class extends Error{};async function ve(e,{onState:o,onStatus:a,signal:t}){let c=500;for(;!t.aborted;){try{let d=await fetch("/admin/events",{headers:{Accept:"text/event-stream",Authorization:`Bearer ${e}`},cache:"no-store",signal:t});if(d.status===401||d.status===404)throw new M;if(!d.ok||!d.body)throw new Error(`the feed answered ${d.status}`);a("live"),c=500;let h=re({onEvent(b){b.event==="state"?o(JSON.parse(b.data)):b.event==="shutdown"&&a("draining")}}),m=d.body.pipeThrough(new TextDecoderStream).getReader();for(;;){let{value:b,done:u}=await m.read();if(u)break;h.feed(b)}}catch(d){if(K(d)||d instanceof M)throw d}if(t.aborted)break;a("reconnecting"),await ce(c,t).catch(()=>{}),c=Math.min(c*2,1e4)}}var Ie={redis:"fleet override (Redis)",config:"configured (KENSHO_FLAGS)",default:"built-in default"};function ye(e){let o=e.setting;return{enabled:o.enabled,default_variant:o.default_variant,rollout:Object.fromEntries(e.variants.map(a=>[a,String(o.rollout[a]??0)]))}}function Le({flag:e,onSave:o,onReset:a}){let[t,c]=_(()=>ye(e));R(()=>c(ye(e)),[e.key,e.source,e.updated_at,JSON.stringify(e.setting)]);let d=e.variants.filter(u=>u!==t.default_variant),h=d.reduce((u,f)=>u+(Number(t.rollout[f])||0),0),m=`flag-${e.key}-title`;function b(u){u.preventDefault();let f={};for(let g of d){let v=Number(t.rollout[g]);v>0&&(f[g]=v)}o(e.key,{enabled:t.enabled,default_variant:t.default_variant,rollout:f})}return l`
    <article class="flag" data-flag=${e.key} aria-labelledby=${m}>
      <h3 id=${m}><code>${e.key}</code></h3>
      <p class="muted">${e.description}</p>
      <dl class="facts">
        <dt>Source</dt><dd data-field="source">${Ie[e.source]||e.source}${e.updated_at?` · set ${new Date(e.updated_at).toLocaleString("en-GB")}`:""}</dd>
        <dt>State</dt><dd>${e.setting.enabled?"on":"off (everyone gets the built-in variant)"}</dd>
        <dt>Serving</dt><dd data-field="shares">${Object.entries(e.shares).map(([u,f])=>`${u} ${P(f/100,f%1?2:0)}`).join(" · ")}</dd>
        <dt>Evaluations here</dt><dd>${Object.keys(e.evaluations).length?Object.entries(e.evaluations).map(([u,f])=>`${u} ${$(f)}`).join(" · "):"none yet"}</dd>
      </dl>
      <form class="flag-form" onSubmit=${b}>
        <label class="check"><input type="checkbox" checked=${t.enabled}
          onChange=${u=>c({...t,enabled:u.currentTarget.checked})} /> On</label>
        <div class="fields">
          <label>Default variant
            <select value=${t.default_variant}
              onChange=${u=>c({...t,default_variant:u.currentTarget.value})}>
              ${e.variants.map(u=>l`<option value=${u}>${u}</option>`)}
            </select>
          </label>
          ${d.map(u=>l`
            <label>Roll out ${u} to (%)
              <input type="number" min="0" max="100" step="0.01" inputmode="decimal" value=${t.rollout[u]}
                onInput=${f=>c({...t,rollout:{...t.rollout,[u]:f.currentTarget.value}})} />
            </label>`)}
        </div>
        <p class=${h>100?"error":"muted"} role=${h>100?"alert":void 0}>
          ${h>100?"The rollout adds up to more than 100 %.":"Clients are bucketed by a stable hash; raising a percentage keeps everyone already in."}
        </p>
        <div class="actions">
          <button type="submit" class="primary" disabled=${h>100}>Apply to the fleet</button>
          <button type="button" onClick=${()=>a(e.key)} disabled=${e.source!=="redis"}>Reset to configured</button>
        </div>
      </form>
    </article>
  `}function we({flags:e,error:o,onSave:a,onReset:t}){return l`
    ${o&&l`<p class="error" role="alert">${o}</p>`}
    ${e&&l`
      <p class="muted" data-field="redis">${e.redis==="down"?"Redis is unreachable: this replica evaluates the configured settings, and changes are refused.":`Following the fleet's settings in Redis (re-read at least every ${e.refresh_s} s).`}</p>
      <div class="flags">${e.flags.map(c=>l`<${Le} key=${c.key} flag=${c} onSave=${a} onReset=${t} />`)}</div>`}
    ${!e&&!o&&l`<p class="empty">Loading…</p>`}
  `}function W({values:e,label:o,max:a,width:t=160,height:c=36}){let d=e.filter(f=>Number.isFinite(f)),h=a??Math.max(...d,0),m=h>0?h:1,b=d.length>1?t/(d.length-1):t,u=d.map((f,g)=>`${(g*b).toFixed(1)},${(c-2-f/m*(c-4)).toFixed(1)}`).join(" ");return l`
    <svg class="sparkline" viewBox=${`0 0 ${t} ${c}`} width=${t} height=${c} role="img" aria-label=${o}>
      <title>${o}</title>
      <line x1="0" y1=${c-1} x2=${t} y2=${c-1} class="baseline" />
      ${d.length>1&&l`<polyline points=${u} fill="none" stroke="currentColor" stroke-width="2" />`}
    </svg>
  `}function xe({breaker:e,onMode:o}){if(!e)return l`<p class="empty">No breaker in this actor tree.</p>`;let a=e.calls||{};return l`
    <p class="big"><span class=${`state state-${e.state}`}>${e.state.replace("_"," ")}</span>
      <span class="muted"> mode ${e.mode}</span></p>
    <dl class="facts">
      <dt>Failure rate</dt><dd>${P(e.failure_rate)} (opens at ${P(e.failure_threshold,0)})</dd>
      <dt>Slow calls</dt><dd>${P(e.slow_call_rate)}</dd>
      <dt>Window</dt><dd>${$(e.buffered_calls)} of ${$(e.window_size)} calls (judges from ${$(e.minimum_calls)})</dd>
      ${e.retry_after!==null&&l`<dt>Retry after</dt><dd>${Math.ceil(e.retry_after)} s</dd>`}
      <dt>Calls</dt><dd>${Object.entries(a).map(([t,c])=>`${t} ${$(c)}`).join(" · ")}</dd>
      <dt>Transitions</dt>
      <dd>${e.transitions_by.length?e.transitions_by.map(t=>`${t.from} → ${t.to} ×${t.count}`).join(" · "):"none"}${e.last_transition?` (last: ${e.last_transition})`:""}</dd>
    </dl>
    <div class="actions">
      <button type="button" class="danger" onClick=${()=>o("forced_open")}>Force open</button>
      <button type="button" onClick=${()=>o("disabled")}>Disable</button>
      <button type="button" onClick=${()=>o("auto")}>Reset</button>
    </div>
  `}function _e({cache:e,history:o,onInvalidate:a}){let[t,c]=_("");if(!e)return l`<p class="empty">No cache actor in this tree.</p>`;let d=e.summary||{};function h(m){m.preventDefault(),t.trim()&&a(t.trim())}return l`
    <p class="big">${P(d.hit_ratio)} <span class="muted">hit ratio</span></p>
    <${W} values=${o.hitRatio} max=${1} label=${`Cache hit ratio, last ${o.hitRatio.length} samples`} />
    <dl class="facts">
      <dt>Entries</dt><dd>${$(d.entries)} of ${$(d.max_entries)}</dd>
      <dt>Size</dt><dd>${H(d.bytes)} of ${H(d.max_bytes)}</dd>
      <dt>Tiers</dt><dd>L1 ${d.l1||"?"} · L2 ${d.l2||"?"}</dd>
      <dt>Lookups</dt><dd>${d.lookups?Object.entries(d.lookups).map(([m,b])=>`${m} ${$(b)}`).join(" · "):"–"}</dd>
      <dt>Stale served</dt><dd>${$(d.stale_served)} (if-error ${$(d.stale_if_error)})</dd>
    </dl>
    <form class="inline-form" onSubmit=${h}>
      <label>Cache key pattern
        <input type="text" value=${t} placeholder="anime:GR751KNZY|*" maxlength="256"
          onInput=${m=>c(m.currentTarget.value)} />
      </label>
      <button type="submit" disabled=${!t.trim()}>Invalidate</button>
    </form>
  `}function Ce({sync:e,onSync:o}){return e?l`
    <p class="big">${e.running?"Running":e.loaded?"Loaded":"Empty"}
      <span class="muted"> ${$(e.series_count)} series</span></p>
    ${e.running&&l`<progress max="1" value=${e.progress??void 0} aria-label="Sync progress">${P(e.progress,0)}</progress>`}
    <dl class="facts">
      <dt>Last run</dt><dd>${e.last_run?new Date(e.last_run).toLocaleString("en-GB"):"never"}</dd>
      <dt>Result</dt><dd>${e.last_result||"–"}</dd>
      ${e.last_error&&l`<dt>Error</dt><dd class="failure">${e.last_error}</dd>`}
    </dl>
    <div class="actions"><button type="button" onClick=${o} disabled=${e.running}>Sync now</button></div>
  `:l`<p class="empty">No catalog sync job on this replica.</p>`}function Se({bandwidth:e,streams:o,history:a}){if(!e)return l`<p class="empty">No stream statistics.</p>`;let t=a.kbps.length?a.kbps[a.kbps.length-1]:0;return l`
    <p class="big">${$(Math.round(t))} <span class="muted">kbit/s reported · ${$(o)} open streams</span></p>
    <${W} values=${a.kbps} label=${`Players' reported bandwidth, last ${a.kbps.length} samples`} />
    <div class="table-wrap" tabindex="0" role="region" aria-label="Bandwidth by quality (scrolls sideways)">
    <table class="compact">
      <thead><tr><th scope="col">Quality</th><th scope="col">Reports</th><th scope="col">Average</th><th scope="col">Received</th><th scope="col">Underruns</th></tr></thead>
      <tbody>
        ${Object.entries(e).map(([c,d])=>l`<tr key=${c}>
          <th scope="row">${c}</th><td>${$(d.reports)}</td><td>${$(Math.round(d.average_kbps))} kbit/s</td>
          <td>${H(d.bytes)}</td><td>${$(d.underruns)}</td></tr>`)}
      </tbody>
    </table>
    </div>
  `}function Ae({state:e,history:o}){return l`
    <dl class="facts">
      <dt>Uptime</dt><dd>${Math.round(e.uptime_s)} s</dd>
      <dt>Requests in flight</dt><dd>${$(e.in_flight)}</dd>
      <dt>Event loop lag</dt><dd>${e.loop_lag_ms.toFixed(1)} ms</dd>
    </dl>
    <${W} values=${o.lag} label=${`Event loop lag in ms, last ${o.lag.length} samples`} />
  `}function Ee({analytics:e,error:o,onRefresh:a}){return l`
    ${o&&l`<p class="error" role="alert">${o}</p>`}
    ${e&&l`
      <div class="two">
        <div>
          <h3>Top queries</h3>
          ${e.top_queries.length?l`<ol class="queries">${e.top_queries.map(t=>l`<li><span>${t.query}</span> <span class="muted">${$(t.count)}</span></li>`)}</ol>`:l`<p class="empty">No searches yet.</p>`}
        </div>
        <div>
          <h3>Queries with no result</h3>
          ${e.zero_result_queries.length?l`<ol class="queries">${e.zero_result_queries.map(t=>l`<li><span>${t.query}</span> <span class="muted">${$(t.count)}</span></li>`)}</ol>`:l`<p class="empty">None.</p>`}
        </div>
      </div>
      <p class="muted">Last ${Math.round(e.window_s/3600)} h; ${$(e.recorder.recorded)} searches recorded here.</p>`}
    <div class="actions"><button type="button" onClick=${a}>Refresh</button></div>
  `}var je=["Name","State","Mailbox","Processed","Failed","Restarts","p50","p99","Uptime","Last failure"];function ae(e,o=0,a=[]){a.push({node:e,depth:o});for(let t of e.children||[])ae(t,o+1,a);return a}function Re({value:e}){return l`<span class=${`state state-${e}`}>${(e||"").replace("_"," ")}</span>`}function De(e){if(!e)return"";let o=new Date(e.at*1e3).toLocaleTimeString("en-GB");return`${e.type}: ${e.message} (${o})`}function Pe({tree:e,onRestart:o}){if(!e)return l`<p class="empty">The actor system is not running.</p>`;let a=ae(e);return l`
    <div class="table-wrap" tabindex="0" role="region" aria-label="Supervision tree">
      <table class="tree" role="table">
        <thead role="rowgroup">
          <tr role="row">
            ${je.map(t=>l`<th scope="col" role="columnheader">${t}</th>`)}
            <th scope="col" role="columnheader"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody role="rowgroup">
          ${a.map(({node:t,depth:c})=>t.kind==="supervisor"?l`<tr key=${`sup-${t.name}`} role="row" class="supervisor" data-actor=${t.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(c,4)}`}>${t.name}</th>
                  <td role="cell" data-label="State"><${Re} value=${t.failed?"failed":"running"} /></td>
                  <td role="cell" data-label="Strategy" colspan="3">${t.strategy} supervisor</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${t.restarts_in_period} of ${t.intensity} in ${t.period} s</td>
                  <td role="cell" colspan="3" class="blank"></td>
                  <td role="cell" data-label="Failure" class=${t.failure_reason?"failure":"blank"}>${t.failure_reason||""}</td>
                  <td role="cell" class="blank"></td>
                </tr>`:l`<tr key=${`actor-${t.name}`} role="row" data-actor=${t.name}>
                  <th scope="row" role="rowheader" class=${`depth-${Math.min(c,4)}`}>${t.name}</th>
                  <td role="cell" data-label="State"><${Re} value=${t.state} /></td>
                  <td role="cell" data-label="Mailbox" data-col="mailbox">${$(t.mailbox_depth)}${t.stashed?` (+${t.stashed} stashed)`:""}</td>
                  <td role="cell" data-label="Processed" data-col="processed">${$(t.processed)}</td>
                  <td role="cell" data-label="Failed" data-col="failed">${$(t.failed)}</td>
                  <td role="cell" data-label="Restarts" data-col="restarts">${$(t.restarts)}</td>
                  <td role="cell" data-label="p50">${ee(t.processing_us&&t.processing_us.p50)}</td>
                  <td role="cell" data-label="p99">${ee(t.processing_us&&t.processing_us.p99)}</td>
                  <td role="cell" data-label="Uptime">${ue(t.uptime_s)}</td>
                  <td role="cell" data-label="Last failure" class=${t.last_failure?"failure":"blank"}>${De(t.last_failure)}</td>
                  <td role="cell" class="restart-cell"><button type="button" onClick=${()=>o(t.name)} aria-label=${`Restart ${t.name}`}>Restart</button></td>
                </tr>`)}
        </tbody>
      </table>
    </div>
  `}function X(e,o){return e?ae(e).map(a=>a.node).find(a=>a.name===o):void 0}var oe="kensho.adminToken",Fe=120,Ne=3e4,Be=5e3;function Me({onToken:e,refused:o}){let[a,t]=_("");return l`
    <section class="token card">
      <h1>Kenshō operator console</h1>
      <form onSubmit=${c=>{c.preventDefault(),a.trim()&&e(a.trim())}} class="stack">
        <label for="admin-token">Admin token</label>
        <input id="admin-token" type="password" autocomplete="off" value=${a} onInput=${c=>t(c.currentTarget.value)} required />
        <button type="submit" class="primary">Connect</button>
        <p class="error" role="alert">${o?"The server refused this token.":""}</p>
      </form>
      <p class="muted">The token (<code>KENSHO_ADMIN_TOKEN</code>) stays in this tab's session storage.</p>
    </section>
  `}function F({id:e,title:o,wide:a=!1,children:t}){return l`<section class=${a?"card wide":"card"} aria-labelledby=${`${e}-heading`}>
    <h2 id=${`${e}-heading`}>${o}</h2>
    ${t}
  </section>`}function ne(e,o){let a=[...e,o];return a.length>Fe?a.slice(a.length-Fe):a}function Oe(e){return e?Object.values(e).reduce((o,a)=>o+a.bytes,0):0}function ze({token:e,onRefused:o}){let[a,t]=_(null),[c,d]=_("connecting"),[h,m]=_({hitRatio:[],kbps:[],lag:[]}),[b,u]=_([]),[f,g]=_({data:null,error:null}),[v,x]=_({data:null,error:null}),O=G(null),C=N((s,i=!1)=>{u(p=>[{text:s,bad:i,at:new Date().toLocaleTimeString("en-GB")},...p].slice(0,6))},[]),y=N((s,i={})=>de(s,{...i,token:e}).catch(p=>{throw p instanceof le&&(p.status===401||p.status===404)&&o(),p}),[e,o]);R(()=>{let s=new AbortController;return ve(e,{signal:s.signal,onStatus:d,onState(i){t(i);let p=X(i.tree,"cache"),w=O.current,I=w&&i.at>w.at?(Oe(i.bandwidth)-Oe(w.bandwidth))*8/1e3/(i.at-w.at):0;O.current=i,m(A=>({hitRatio:ne(A.hitRatio,p&&p.summary?p.summary.hit_ratio??0:0),kbps:ne(A.kbps,Math.max(0,I)),lag:ne(A.lag,i.loop_lag_ms)}))}}).catch(i=>{i instanceof M?o():K(i)||d("reconnecting")}),()=>s.abort()},[e]);let j=N(()=>{y("/admin/search/analytics?window=24h&limit=10").then(s=>g({data:s,error:null})).catch(s=>g(i=>({...i,error:s.message})))},[y]);R(()=>{j();let s=setInterval(j,Ne);return()=>clearInterval(s)},[j]);let T=N(()=>{y("/admin/flags").then(s=>x({data:s,error:null})).catch(s=>x(i=>({...i,error:s.message})))},[y]);R(()=>{T();let s=setInterval(T,Be);return()=>clearInterval(s)},[T]);async function S(s,i,p,w){if(await me(s,i))try{C(w(await p()))}catch(I){C(`${i} failed: ${I.message}`,!0)}}let z=s=>S(`Restart the ${s} actor? Its mailbox is stashed and replayed.`,"Restart",()=>y(`/admin/actors/${encodeURIComponent(s)}/restart`,{method:"POST"}),()=>`Restarted ${s}.`),E=s=>{let i={forced_open:"Force the breaker open? Every upstream call fails fast.",disabled:"Disable the breaker? Upstream calls are never refused.",auto:"Reset the breaker to automatic?"}[s];return S(i,{forced_open:"Force open",disabled:"Disable",auto:"Reset"}[s],()=>y("/admin/breaker",{method:"POST",body:{mode:s}}),p=>`Breaker is ${p.state} (mode ${p.mode}).`)},U=s=>S(`Invalidate every cache key matching “${s}” on every replica?`,"Invalidate",()=>y("/admin/cache/invalidate",{method:"POST",body:{pattern:s}}),i=>`Invalidated ${i.invalidated} key(s) matching “${i.pattern}”.`),k=s=>{let i=Object.entries(s.rollout).map(([p,w])=>`${p} to ${w} %`).join(", ");return`${s.enabled?"on":"off"}, default ${s.default_variant}${i?`, ${i}`:""}`},q=(s,i)=>S(`Set ${s} for the whole fleet: ${k(i)}?`,"Apply",()=>y(`/admin/flags/${encodeURIComponent(s)}`,{method:"PUT",body:i}),p=>(T(),`${p.key} is now ${k(p.setting)} on every replica.`)),V=s=>S(`Drop the fleet's override of ${s}? Every replica goes back to its configured setting.`,"Reset",()=>y(`/admin/flags/${encodeURIComponent(s)}`,{method:"DELETE"}),i=>(T(),`${i.key} is back to its ${i.source==="config"?"configured":"built-in"} setting.`)),Z=()=>S("Start a catalog sync now?","Sync now",()=>y("/admin/catalog/sync",{method:"POST"}),()=>"Catalog sync started."),r={live:"Live",connecting:"Connecting…",reconnecting:"Reconnecting…",draining:"Server shutting down"},n=X(a&&a.tree,"session_pool");return l`
    <header class="console-header">
      <h1>Kenshō operator console</h1>
      <p class=${`connection connection-${c}`} role="status">${r[c]||c}${a&&a.draining?" · draining":""}</p>
      <button type="button" onClick=${o}>Forget token</button>
    </header>
    <div class="log" role="log" aria-label="Actions" aria-live="polite">
      ${b.map(s=>l`<p class=${s.bad?"error":""}>${s.at} ${s.text}</p>`)}
    </div>
    ${a?l`
      <main class="panels">
        <${F} id="tree" title="Supervision tree" wide>
          <${Pe} tree=${a.tree} onRestart=${z} />
        <//>
        <${F} id="breaker" title="Upstream breaker">
          <${xe} breaker=${a.breaker} onMode=${E} />
        <//>
        <${F} id="cache" title="Cache">
          <${_e} cache=${X(a.tree,"cache")} history=${h} onInvalidate=${U} />
        <//>
        <${F} id="sync" title="Catalog sync">
          <${Ce} sync=${a.sync} onSync=${Z} />
        <//>
        <${F} id="streams" title="Streams">
          <${Se} bandwidth=${a.bandwidth} streams=${n&&n.summary?n.summary.streams:0} history=${h} />
        <//>
        <${F} id="process" title="Process">
          <${Ae} state=${a} history=${h} />
        <//>
        <${F} id="flags" title="Feature flags" wide>
          <${we} flags=${v.data} error=${v.error} onSave=${q} onReset=${V} />
        <//>
        <${F} id="search" title="Search analytics" wide>
          <${Ee} analytics=${f.data} error=${f.error} onRefresh=${j} />
        <//>
      </main>`:l`<p class="empty">Waiting for the first update…</p>`}
    <${$e} />
  `}function Te(){let[e,o]=_(()=>sessionStorage.getItem(oe)),[a,t]=_(!1),c=h=>{sessionStorage.setItem(oe,h),t(!1),o(h)},d=N(()=>{sessionStorage.removeItem(oe),t(!0),o(null)},[]);return e?l`<${ze} key=${e} token=${e} onRefused=${d} />`:l`<main><${Me} onToken=${c} refused=${a} /></main>`}ie(l`<${Te} />`,document.getElementById("app"));
